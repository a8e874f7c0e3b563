#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "server/network.h"

#include <sys/sendfile.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "protocol/messages/response_header.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"
#include "runtime/rate_limited_log.h"
#include "server/broker.h"
#include "server/dispatch.h"
#include "server/handlers/handlers.h"
#include "server/listener_security.h"
#include "server/metrics.h"
#include "server/network_limits.h"
#include "storage/files.h"

namespace kb::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// One network thread: a connection lives on one loop for its whole life.
using Loop = runtime::LoopThread;

class Connection;

// A frame's first buffer when it has not all arrived yet; each later step at least doubles.
constexpr size_t kFirstFrameStep = 64 * 1024;
// How often a listener held back by max.connections looks again (a raised limit; a closed
// connection wakes it at once).
constexpr int64_t kSlotRecheckMs = 500;
// A TLS handshake not done by then closes the connection (a client that connects and sends
// nothing, or too little, holds no descriptor for long).
constexpr int64_t kTlsHandshakeTimeoutMs = 10000;
// A slot whose response body is the whole frame (a raw SASL token): no response header.
constexpr int16_t kBareFrame = -1;
constexpr int16_t kSaslAuthenticateKey = 36;  // what a raw SASL token stands for in the metrics

// Asio's context over a shared SSL_CTX (it takes a reference of its own).
std::shared_ptr<asio::ssl::context> asio_context(const security::TlsContext& tls) {
  SSL_CTX_up_ref(tls.get());
  return std::make_shared<asio::ssl::context>(tls.get());
}

struct Network::Impl {
  NetworkOptions options;
  Broker& broker;
  // Before the loops: connections still queued on a loop are destroyed with it and give back
  // what they hold.
  std::atomic<int64_t> connections{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> any_resting{false};
  // queued.max.request.bytes: the bytes held, and the connections that wait to read their
  // next request.
  std::atomic<int64_t> queued_bytes{0};
  std::mutex memory_mu;
  std::vector<std::weak_ptr<Connection>> waiting_for_memory;

  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  // Per listener: its Asio TLS context (SSL and SASL_SSL listeners), else null. Touched on loop
  // 0 only; replaced when the listener's stores are reloaded, while the connections made with
  // the old one keep it.
  std::vector<std::shared_ptr<asio::ssl::context>> tls_contexts;
  std::vector<uint16_t> bound_ports;
  std::atomic<size_t> next_loop{0};

  std::mutex conns_mu;
  std::list<std::weak_ptr<Connection>> conns;  // for shutdown

  // Per listener, touched on loop 0 only (where the acceptors run): a listener rests after a
  // failed accept or at max.connections, with no accept outstanding, until its timer fires or
  // a connection closes.
  std::vector<std::unique_ptr<asio::steady_timer>> accept_timers;
  std::vector<AcceptBackoff> backoffs;
  std::vector<bool> resting;
  std::vector<bool> at_max_connections;
  // A connection accepted while the broker was at max.connections (the limit fell while the
  // accept was pending) waits here, unserved, for a slot, like the one Kafka's acceptor holds.
  struct Parked {
    tcp::socket socket;
    Loop* loop;
  };
  std::vector<std::optional<Parked>> parked;
  runtime::RateLimitedLog accept_log;  // keyed by listener
  runtime::RateLimitedLog limit_log;   // keyed by listener or address
  runtime::RateLimitedLog security_log;  // failed TLS handshakes, refused SASL requests: by listener and kind

  Impl(NetworkOptions o, Broker& b) : options(std::move(o)), broker(b) {}
  void accept(size_t i);
  void rest(size_t i, int64_t ms);
  void on_accepted(size_t i, Loop& loop, tcp::socket socket);
  // A connection counted by the quotas closed: give its slot back, wake resting listeners.
  void connection_gone(const std::string& ip);

  bool limits_memory() const { return options.queued_max_request_bytes > 0; }
  void hold(int64_t n) { queued_bytes.fetch_add(n); }
  void release(int64_t n);
  // True (and `c` is woken when bytes are released) when the queued bytes are at the limit.
  bool wait_for_memory(const std::shared_ptr<Connection>& c);
};

// One client connection. Lives on one loop; all members are touched only on that thread.
// Requests may be pipelined: each gets a slot, and answers leave in slot order even when a
// later request finishes first.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `ip` is counted by the quotas when `counted`; close() gives it back.
  // `security` (SSL and SASL listeners) outlives the connection: the network owns it; `tls` (SSL
  // and SASL_SSL listeners) is shared, as a reload may replace it while the connection lives.
  Connection(Network::Impl& net, Loop& loop, tcp::socket socket, std::string listener, std::string ip, uint16_t port,
             bool counted, const ListenerSecurity* security, std::shared_ptr<asio::ssl::context> tls)
      : net_(net),
        loop_(loop),
        socket_(std::move(socket)),
        tls_context_(std::move(tls)),
        idle_timer_(loop.context()),
        peer_(ip + ":" + std::to_string(port)),
        ip_(std::move(ip)),
        counted_(counted),
        listener_(std::move(listener)),
        security_(security) {
    if (tls_context_) tls_.emplace(std::move(socket_), *tls_context_);
    if (security && security->sasl) sasl_ = std::make_unique<SaslSession>(security->sasl);
  }

  // One that never ran close() (still queued on a loop at shutdown) gives back its counts.
  ~Connection() {
    if (closed_) return;
    net_.release(frame_held_);
    for (auto& s : slots_) net_.release(s.held);
    if (counted_) net_.connection_gone(ip_);
  }

  void start() {
    if (closed_) return;  // closed by a shutdown before it started
    started_ = true;
    net_.connections.fetch_add(1);
    net_.broker.metrics().connection_opened();
    // A peer may already be gone: options that fail here are harmless, the first read says so.
    boost::system::error_code ec;
    sock().set_option(tcp::no_delay(true), ec);
    if (net_.options.socket_send_buffer_bytes > 0)
      sock().set_option(asio::socket_base::send_buffer_size(net_.options.socket_send_buffer_bytes), ec);
    if (net_.options.socket_receive_buffer_bytes > 0)
      sock().set_option(
          asio::socket_base::receive_buffer_size(net_.options.socket_receive_buffer_bytes), ec);
    last_active_ = Clock::now();
    arm_idle_timer();
    if (tls_) return handshake();
    read_size();
  }

  // Called on any thread once shutdown begins: stop reading, close after pending answers.
  void drain() {
    asio::post(loop_.context(), [self = shared_from_this()] {
      self->draining_ = true;
      self->maybe_close_drained();
    });
  }

  // Called on any thread: close now, on the connection's loop.
  void force_close() {
    asio::post(loop_.context(), [self = shared_from_this()] { self->close(); });
  }

  // Called on any thread once queued request bytes fell below queued.max.request.bytes.
  void resume_reading() {
    asio::post(loop_.context(), [self = shared_from_this()] {
      if (!std::exchange(self->waiting_for_memory_, false) || self->closed_) return;
      self->read_size();
    });
  }

  const std::string& peer() const { return peer_; }

 private:
  struct Slot {
    uint64_t seq;
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    int16_t response_header_version;
    Clock::time_point started;
    std::optional<Response> response;
    int64_t held = 0;  // request bytes counted against queued.max.request.bytes until answered
    Clock::time_point answered{};  // when the handler's answer came (the split of the request time)
  };

  // Output queued for the socket: owned byte buffers and file slices, in wire order.
  struct OutChunk {
    std::shared_ptr<std::vector<uint8_t>> owned;  // header bytes
    std::shared_ptr<wire::Writer> body;           // keeps body bytes / file slices alive
    const uint8_t* data = nullptr;
    size_t size = 0;
    const FileSlice* file = nullptr;
    int64_t file_done = 0;
  };

  void arm_idle_timer() {
    if (net_.options.connections_max_idle_ms <= 0) return;
    idle_timer_.expires_after(std::chrono::milliseconds(net_.options.connections_max_idle_ms));
    idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      auto idle = Clock::now() - self->last_active_;
      if (idle >= std::chrono::milliseconds(self->net_.options.connections_max_idle_ms) &&
          self->slots_.empty()) {
        spdlog::info("closing idle connection from {} (connections.max.idle.ms={})", self->peer_,
                     self->net_.options.connections_max_idle_ms);
        self->close();
        return;
      }
      self->arm_idle_timer();
    });
  }

  // The socket under TLS, or the plain one.
  tcp::socket& sock() { return tls_ ? tls_->next_layer() : socket_; }

  template <class Buffers, class Handler>
  void read_exactly(const Buffers& buffers, Handler&& handler) {
    if (tls_)
      asio::async_read(*tls_, buffers, std::forward<Handler>(handler));
    else
      asio::async_read(socket_, buffers, std::forward<Handler>(handler));
  }

  template <class Buffers, class Handler>
  void write_all(const Buffers& buffers, Handler&& handler) {
    if (tls_)
      asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    else
      asio::async_write(socket_, buffers, std::forward<Handler>(handler));
  }

  void handshake() {
    auto timer = std::make_shared<asio::steady_timer>(loop_.context());
    timer->expires_after(std::chrono::milliseconds(kTlsHandshakeTimeoutMs));
    timer->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_ || self->handshake_done_) return;
      self->net_.security_log.warn(self->listener_ + "/tls", "closing connection from {} on listener {}: no TLS handshake within {} ms",
                                   self->peer_, self->listener_, kTlsHandshakeTimeoutMs);
      self->close();
    });
    tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this(), timer](
                                                              const boost::system::error_code& ec) {
      timer->cancel();
      if (self->closed_) return;
      if (ec) {
        // Garbage or a plaintext client on a TLS port, an untrusted or missing client
        // certificate: one line per listener and 10 s, whatever the cause.
        self->net_.security_log.warn(self->listener_ + "/tls", "TLS handshake with {} on listener {} failed: {}", self->peer_,
                                     self->listener_, ec.message());
        return self->close();
      }
      self->handshake_done_ = true;
      if (!self->set_certificate_principal()) return self->close();
      self->read_size();
    });
  }

  // SSL listeners: the client certificate's subject, mapped by ssl.principal.mapping.rules,
  // names the principal. False (logged) when no rule applies: Kafka refuses such a client.
  bool set_certificate_principal() {
    if (!security_ || !security_->principal_mapper) return true;
    const std::string subject = security::peer_subject(tls_->native_handle());
    if (subject.empty()) return true;  // no certificate (ssl.client.auth none or requested): ANONYMOUS
    auto name = security_->principal_mapper->map(subject);
    if (!name) {
      net_.security_log.warn(listener_ + "/mapping", "closing connection from {} on listener {}: no ssl.principal.mapping.rules rule "
                             "applies to the certificate subject {}", peer_, listener_, subject);
      return false;
    }
    principal_ = "User:" + *name;
    spdlog::debug("connection from {} on listener {} authenticated by certificate {} as {}", peer_, listener_, subject,
                  principal_);
    return true;
  }

  void read_size() {
    // One read at a time: a connection waiting for memory is resumed by resume_reading().
    if (draining_ || closed_ || reading_ || waiting_for_memory_) return;
    if (static_cast<int>(slots_.size()) >= net_.options.max_in_flight_per_connection) {
      read_paused_ = true;  // resumed when answers drain
      return;
    }
    // queued.max.request.bytes: between requests only, so every connection in the middle of
    // one finishes it and answers can free the memory (Kafka mutes channels the same way).
    if (net_.limits_memory() && net_.wait_for_memory(shared_from_this())) {
      waiting_for_memory_ = true;
      return;
    }
    reading_ = true;
    read_exactly(asio::buffer(size_buf_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       self->reading_ = false;
                       if (self->closed_) return;
                       if (ec) return self->on_read_error(ec);
                       self->on_size();
                     });
  }

  void on_size() {
    int32_t size = static_cast<int32_t>(wire::load_be32(size_buf_.data()));
    if (sasl_ && !sasl_->authenticated() && (size <= 0 || size > security_->sasl_max_receive_bytes)) {
      // Kafka's smaller limit before authentication: a stranger cannot make the broker buffer
      // a 100 MB "token".
      net_.security_log.warn(listener_ + "/size", "closing connection from {} on listener {}: request size {} before "
                             "authentication outside 1..{} (sasl.server.max.receive.size)", peer_, listener_, size,
                             security_->sasl_max_receive_bytes);
      return close();
    }
    if (size <= 0 || size > net_.options.max_request_bytes) {
      spdlog::warn("closing connection from {}: request size {} outside 1..{} (socket.request.max.bytes)",
                   peer_, size, net_.options.max_request_bytes);
      return close();
    }
    frame_ = std::make_shared<Frame>();
    frame_size_ = static_cast<size_t>(size);
    read_frame();
  }

  // The frame's buffer grows as its bytes arrive, never to the declared size up front: each
  // step takes what the socket already holds, and at least doubles (from 64 KiB), so a frame
  // costs at most twice the bytes really sent, and a whole frame that has arrived is read in
  // one step.
  void read_frame() {
    const size_t have = frame_->size();
    size_t target = frame_size_;
    if (frame_size_ > kFirstFrameStep) {
      boost::system::error_code ec;
      const size_t arrived = have + sock().available(ec);
      target = std::min(frame_size_, std::max({kFirstFrameStep, have * 2, arrived}));
    }
    frame_->reserve(target);  // exactly: the capacity is what is counted
    frame_->resize(target);
    net_.hold(static_cast<int64_t>(target - have));
    frame_held_ += static_cast<int64_t>(target - have);
    reading_ = true;
    // The handler keeps the buffer alive: close() drops frame_ while the read may be pending.
    read_exactly(asio::buffer(frame_->data() + have, target - have),
                     [self = shared_from_this(), keep = frame_](const boost::system::error_code& ec, size_t) {
                       self->reading_ = false;
                       if (self->closed_) return;
                       if (ec) return self->on_read_error(ec);
                       if (self->frame_->size() < self->frame_size_) return self->read_frame();
                       self->on_frame(std::exchange(self->frame_, nullptr));
                     });
  }

  void on_read_error(const boost::system::error_code& ec) {
    if (ec != asio::error::eof && ec != asio::error::operation_aborted &&
        ec != asio::error::connection_reset)
      spdlog::debug("read from {} failed: {}", peer_, ec.message());
    // The peer is gone (or half-closed): answers already owed are still written if possible,
    // then the connection closes.
    peer_closed_ = true;
    if (slots_.empty() || !sock().is_open()) close();
  }

  void on_frame(std::shared_ptr<Frame> frame) {
    // A quota throttle mutes the connection: the request is held (and nothing more is read)
    // until the throttle time is over.
    if (const auto now = Clock::now(); now < muted_until_) {
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(muted_until_ - now).count();
      loop_.after_ms(wait, [self = shared_from_this(), frame = std::move(frame)]() mutable {
        if (!self->closed_) self->on_frame(std::move(frame));
      });
      return;
    }
    last_active_ = Clock::now();
    const int64_t held = std::exchange(frame_held_, 0);
    if (sasl_ && sasl_->expects_raw_token()) return on_raw_sasl_token(std::move(frame), held);
    ParsedRequest parsed;
    if (parse_request(std::move(frame), peer_, parsed) == ParseOutcome::kClose) {
      net_.release(held);
      close_after_pending_ = true;
      if (slots_.empty()) close();
      return;
    }
    if (sasl_ && !sasl_->admits(parsed.ctx.api_key, runtime::steady_ms())) {
      // Kafka's SaslServerAuthenticator closes the connection without an answer.
      const HandlerInfo* h = find_handler(parsed.ctx.api_key);
      net_.security_log.warn(listener_ + "/sasl", "closing connection from {} on listener {}: {} request {}", peer_, listener_,
                             h ? h->name : "unknown",
                             sasl_->authenticated() ? "after the SASL session ended (connections.max.reauth.ms)"
                                                    : "before SASL authentication");
      net_.release(held);
      close_after_pending_ = true;
      if (slots_.empty()) close();
      return;
    }
    uint64_t seq = next_seq_++;
    slots_.push_back(Slot{seq, parsed.ctx.api_key, parsed.ctx.api_version, parsed.ctx.correlation_id,
                          parsed.response_header_version, Clock::now(), std::nullopt, held});
    parsed.ctx.broker = &net_.broker;
    parsed.ctx.scheduler = &loop_;
    parsed.ctx.listener = listener_;
    parsed.ctx.host = ip_;
    parsed.ctx.principal = sasl_ && sasl_->authenticated() ? sasl_->principal() : principal_;
    parsed.ctx.sasl = sasl_.get();
    if (sasl_) client_id_ = parsed.ctx.client_id;
    std::weak_ptr<Connection> weak = shared_from_this();
    Loop* loop = &loop_;
    dispatch(parsed.ctx, [weak, loop, seq](Response&& r) {
      if (loop->on_loop_thread()) {
        if (auto self = weak.lock()) self->complete(seq, std::move(r));
        return;
      }
      loop->post([weak, seq, r = std::make_shared<Response>(std::move(r))]() mutable {
        if (auto self = weak.lock()) self->complete(seq, std::move(*r));
      });
    });
    read_size();
  }

  // After a SaslHandshake v0 a frame is a bare SASL token, answered by a bare token (Kafka's
  // SaslServerAuthenticator for clients without SaslAuthenticate, e.g. kafka-python); a failed
  // one closes the connection unanswered.
  void on_raw_sasl_token(std::shared_ptr<Frame> frame, int64_t held) {
    auto answer = sasl_->raw_token(std::span<const uint8_t>(frame->data(), frame->size()), runtime::steady_ms());
    RequestContext ctx;
    ctx.broker = &net_.broker;
    ctx.listener = listener_;
    ctx.peer = peer_;
    ctx.host = ip_;
    ctx.client_id = client_id_;
    ctx.sasl = sasl_.get();
    const bool closes = answer.after == SaslSession::After::Close;
    if (closes || !sasl_->expects_raw_token())
      report_authentication(ctx, sasl_->mechanism(), !closes, sasl_->failure());
    const uint64_t seq = next_seq_++;
    slots_.push_back(Slot{seq, kSaslAuthenticateKey, 0, 0, kBareFrame, Clock::now(), std::nullopt, held});
    Response r;
    r.body.write_bytes(answer.response);  // the 4-byte length and the token: the whole frame
    r.send = !closes;
    r.close_after = closes;
    complete(seq, std::move(r));
    read_size();
  }

  void complete(uint64_t seq, Response&& r) {
    if (closed_) return;
    for (auto& s : slots_) {
      if (s.seq == seq) {
        s.response.emplace(std::move(r));
        s.answered = Clock::now();
        net_.release(std::exchange(s.held, 0));
        break;
      }
    }
    bool close_now = false;
    while (!slots_.empty() && slots_.front().response) {
      Slot& s = slots_.front();
      net_.broker.metrics().request_completed(s.api_key,
                                              std::chrono::duration<double>(Clock::now() - s.started).count(),
                                              std::chrono::duration<double>(s.answered - s.started).count());
      if (s.response->throttle_ms > 0)
        muted_until_ = std::max(muted_until_, Clock::now() + std::chrono::milliseconds(s.response->throttle_ms));
      if (s.response->send && !enqueue_response(s)) return close();
      if (s.response->close_after) close_now = true;
      slots_.pop_front();
      if (close_now) break;
    }
    if (close_now) {
      close_after_pending_ = true;
      clear_slots();
    }
    start_write();
    if (read_paused_ && !closed_ &&
        static_cast<int>(slots_.size()) < net_.options.max_in_flight_per_connection) {
      read_paused_ = false;
      read_size();
    }
    maybe_close_drained();
  }

  // False when a file slice could not be read for a TLS connection (the connection closes).
  bool enqueue_response(Slot& s) {
    auto body = std::make_shared<wire::Writer>(std::move(s.response->body));
    if (s.response_header_version == kBareFrame) {
      const auto& bytes = body->buffer();
      out_.push_back(OutChunk{nullptr, body, bytes.data(), bytes.size(), nullptr, 0});
      return true;
    }
    wire::Writer head;
    size_t size_at = head.reserve_int32();
    msg::ResponseHeader rh;
    rh.correlation_id = s.correlation_id;
    rh.encode(head, s.response_header_version);
    int64_t total = static_cast<int64_t>(head.buffer().size() - 4) + body->total_size();
    head.patch_int32(size_at, static_cast<int32_t>(total));
    auto head_bytes = std::make_shared<std::vector<uint8_t>>(std::move(head.buffer()));
    out_.push_back(OutChunk{head_bytes, nullptr, head_bytes->data(), head_bytes->size(), nullptr, 0});
    for (const auto& part : body->parts()) {
      if (part.file && tls_) {
        // TLS encrypts in user space: the zero-copy sendfile path is for plaintext only.
        auto bytes = std::make_shared<std::vector<uint8_t>>();
        if (!read_slice(*part.file, *bytes)) return false;
        out_.push_back(OutChunk{bytes, nullptr, bytes->data(), bytes->size(), nullptr, 0});
      } else if (part.file) {
        out_.push_back(OutChunk{nullptr, body, nullptr, 0, part.file, 0});
      } else if (!part.bytes.empty()) {
        out_.push_back(OutChunk{nullptr, body, part.bytes.data(), part.bytes.size(), nullptr, 0});
      }
    }
    return true;
  }

  bool read_slice(const FileSlice& slice, std::vector<uint8_t>& out) {
    out.resize(static_cast<size_t>(slice.size));
    errno = 0;  // a short read sets none
    if (storage::pread_exact(slice.fd, out.data(), out.size(), slice.position)) return true;
    // An error, or shorter than the slice (truncated underneath us): the promised size cannot be kept.
    spdlog::warn("closing connection to {}: segment file read for a fetch failed ({})", peer_,
                 errno != 0 ? std::strerror(errno) : "the file shrank");
    return false;
  }

  void start_write() {
    if (writing_ || out_.empty() || closed_) return;
    if (out_.front().file) return send_file();
    // Gather the leading run of byte chunks into one writev.
    std::vector<asio::const_buffer> bufs;
    size_t n = 0;
    for (auto& c : out_) {
      if (c.file || bufs.size() >= 64) break;
      bufs.emplace_back(c.data, c.size);
      ++n;
    }
    writing_ = true;
    write_all(bufs,
                      [self = shared_from_this(), n](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        // Closed meanwhile (the peer went away): out_ was emptied by close().
                        if (self->closed_) return;
                        if (ec) return self->on_write_error(ec);
                        for (size_t i = 0; i < n; ++i) self->out_.pop_front();
                        self->after_write();
                      });
  }

  // Sends a file range with sendfile(2): the bytes go from the page cache to the socket
  // without passing through user space. The socket is non-blocking; on EAGAIN we wait for
  // writability and continue.
  void send_file() {
    OutChunk& c = out_.front();
    boost::system::error_code nb_ec;
    socket_.non_blocking(true, nb_ec);
    if (nb_ec) return close();
    int sock = socket_.native_handle();
    while (c.file_done < c.file->size) {
      off_t pos = static_cast<off_t>(c.file->position + c.file_done);
      size_t want = static_cast<size_t>(std::min<int64_t>(c.file->size - c.file_done, 1 << 30));
      ssize_t sent = ::sendfile(sock, c.file->fd, &pos, want);
      if (sent > 0) {
        c.file_done += sent;
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        writing_ = true;
        socket_.async_wait(tcp::socket::wait_write,
                           [self = shared_from_this()](const boost::system::error_code& ec) {
                             self->writing_ = false;
                             if (self->closed_) return;
                             if (ec) return self->on_write_error(ec);
                             self->start_write();
                           });
        return;
      }
      if (sent == 0) {
        // The file is shorter than the slice (truncated underneath us). The response size was
        // already promised, so the stream can't be repaired: close the connection.
        spdlog::warn("closing connection to {}: segment file shrank during a fetch", peer_);
        return close();
      }
      spdlog::debug("sendfile to {} failed: {}", peer_, std::strerror(errno));
      return close();
    }
    out_.pop_front();
    after_write();
  }

  void after_write() {
    if (!out_.empty()) return start_write();
    if (close_after_pending_ && slots_.empty()) return close();
    if (peer_closed_ && slots_.empty()) return close();
    maybe_close_drained();
  }

  void on_write_error(const boost::system::error_code& ec) {
    if (ec != asio::error::operation_aborted)
      spdlog::debug("write to {} failed: {}", peer_, ec.message());
    close();
  }

  // Forgets the unanswered requests (the connection closes): their bytes are no longer queued.
  void clear_slots() {
    for (auto& s : slots_) net_.release(std::exchange(s.held, 0));
    slots_.clear();
  }

  void maybe_close_drained() {
    if ((draining_ || close_after_pending_) && slots_.empty() && out_.empty() && !writing_) close();
  }

 public:
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    idle_timer_.cancel();
    sock().shutdown(tcp::socket::shutdown_both, ec);
    sock().close(ec);
    clear_slots();
    out_.clear();
    frame_.reset();
    net_.release(std::exchange(frame_held_, 0));
    if (started_) {
      net_.connections.fetch_sub(1);
      net_.broker.metrics().connection_closed();
    }
    if (std::exchange(counted_, false)) net_.connection_gone(ip_);
  }

 private:
  Network::Impl& net_;
  Loop& loop_;
  tcp::socket socket_;                              // moved into tls_ on TLS listeners
  std::shared_ptr<asio::ssl::context> tls_context_;  // before tls_, which uses it
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  asio::steady_timer idle_timer_;
  std::string peer_;
  std::string ip_;
  bool counted_ = false;  // by the quotas, until close()
  std::array<uint8_t, 4> size_buf_{};
  std::shared_ptr<Frame> frame_;  // the request being read
  size_t frame_size_ = 0;         // its declared size
  int64_t frame_held_ = 0;        // its bytes counted against queued.max.request.bytes
  bool waiting_for_memory_ = false;
  Clock::time_point muted_until_{};  // quota throttling: requests wait until then
  std::deque<Slot> slots_;
  std::deque<OutChunk> out_;
  uint64_t next_seq_ = 0;
  Clock::time_point last_active_;
  bool reading_ = false;
  bool writing_ = false;
  bool read_paused_ = false;
  bool draining_ = false;
  bool peer_closed_ = false;
  bool close_after_pending_ = false;
  bool closed_ = false;
  bool started_ = false;
  const std::string listener_;  // the listener this connection came in on
  const ListenerSecurity* security_ = nullptr;  // null on PLAINTEXT listeners
  std::unique_ptr<SaslSession> sasl_;           // SASL listeners
  std::string client_id_;                       // SASL listeners: of the last request, for log lines
  bool handshake_done_ = false;
  // From the client certificate on SSL listeners; a SASL session's principal wins over it.
  std::string principal_ = "User:ANONYMOUS";
};

void Network::Impl::accept(size_t i) {
  if (stopping) return;
  const auto& listener = options.listeners[i];
  if (options.quotas && !options.quotas->slot_available(listener.exempt_from_max_connections)) {
    // Kafka's acceptor waits for a slot the same way: new clients wait in the listen backlog.
    if (!at_max_connections[i])
      limit_log.warn(listener.name, "listener {} stops accepting: {} connections open, the most max.connections allows",
                     listener.name, options.quotas->total());
    at_max_connections[i] = true;
    return rest(i, kSlotRecheckMs);
  }
  if (at_max_connections[i]) {
    at_max_connections[i] = false;
    spdlog::info("listener {} accepts connections again (under max.connections)", listener.name);
  }
  if (parked[i]) {
    Parked p = std::move(*parked[i]);
    parked[i].reset();
    on_accepted(i, *p.loop, std::move(p.socket));
    return accept(i);
  }
  resting[i] = false;
  size_t li = next_loop.fetch_add(1) % loops.size();
  Loop& loop = *loops[li];
  acceptors[i]->async_accept(loop.context(), [this, i, &loop](const boost::system::error_code& ec,
                                                          tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping) return;
      // Out of descriptors the pending connection stays in the backlog and the next accept
      // fails at once: rest instead of spinning (it is taken once a descriptor is free).
      const int64_t pause_ms = backoffs[i].after_failure(ec.value());
      accept_log.warn(options.listeners[i].name, "accept failed on listener {}: {}{}", options.listeners[i].name,
                      ec.message(), pause_ms > 0 ? fmt::format(" (next try in {} ms)", pause_ms) : std::string());
      if (pause_ms > 0) return rest(i, pause_ms);
      return accept(i);
    }
    backoffs[i].after_success();
    if (stopping) return;
    if (options.quotas && !options.quotas->slot_available(options.listeners[i].exempt_from_max_connections))
      parked[i].emplace(Parked{std::move(socket), &loop});
    else
      on_accepted(i, loop, std::move(socket));
    accept(i);
  });
}

void Network::Impl::rest(size_t i, int64_t ms) {
  resting[i] = true;
  any_resting = true;
  auto& timer = *accept_timers[i];
  timer.expires_after(std::chrono::milliseconds(ms));
  timer.async_wait([this, i](const boost::system::error_code& ec) {
    // A timer that expired while a closing connection woke the listener finds it accepting.
    if (ec || stopping || !resting[i]) return;
    accept(i);
  });
}

void Network::Impl::on_accepted(size_t i, Loop& loop, tcp::socket socket) {
  const auto& name = options.listeners[i].name;
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return;  // the client is gone already
  std::string ip = ep.address().to_string();
  int32_t limit = 0;
  if (options.quotas && !options.quotas->open(ip, limit)) {
    limit_log.info(ip, "rejected connection from {} on listener {}: the address already has the configured maximum "
                   "of {} connections (max.connections.per.ip)", ip, name, limit);
    socket.close(ec);
    return;
  }
  auto conn = std::make_shared<Connection>(*this, loop, std::move(socket), name, std::move(ip), ep.port(),
                                           options.quotas != nullptr, options.listeners[i].security.get(),
                                           tls_contexts[i]);
  {
    std::lock_guard lk(conns_mu);
    // Forget connections that are gone, so the list does not grow without bound.
    for (auto it = conns.begin(); it != conns.end();) it = it->expired() ? conns.erase(it) : std::next(it);
    conns.push_back(conn);
  }
  asio::post(loop.context(), [conn] { conn->start(); });
}

void Network::Impl::connection_gone(const std::string& ip) {
  options.quotas->close(ip);
  if (!any_resting.load() || stopping) return;
  asio::post(loops[0]->context(), [this] {
    bool still = false;
    for (size_t i = 0; i < resting.size(); ++i) {
      if (resting[i]) accept(i);
      still = still || resting[i];
    }
    any_resting = still;
  });
}

void Network::Impl::release(int64_t n) {
  if (n == 0) return;
  const int64_t before = queued_bytes.fetch_sub(n);
  const int64_t limit = options.queued_max_request_bytes;
  if (limit <= 0 || before < limit || before - n >= limit || stopping) return;
  std::vector<std::weak_ptr<Connection>> wake;
  {
    std::lock_guard lk(memory_mu);
    wake.swap(waiting_for_memory);
  }
  for (auto& w : wake)
    if (auto c = w.lock()) c->resume_reading();
}

bool Network::Impl::wait_for_memory(const std::shared_ptr<Connection>& c) {
  std::lock_guard lk(memory_mu);
  // Checked under the lock release() takes to wake: a release between the check and the
  // registration cannot be missed.
  if (queued_bytes.load() < options.queued_max_request_bytes) return false;
  waiting_for_memory.push_back(c);
  return true;
}

Network::Network(NetworkOptions options, Broker& broker)
    : impl_(std::make_unique<Impl>(std::move(options), broker)) {}

Network::~Network() { stop(std::chrono::milliseconds(0)); }

Status Network::start() {
  int n = std::max(1, impl_->options.threads);
  for (int i = 0; i < n; ++i) impl_->loops.push_back(std::make_unique<Loop>("kb-network-" + std::to_string(i)));
  // Acceptors live on loop 0.
  for (const auto& l : impl_->options.listeners) {
    boost::system::error_code ec;
    std::string host = l.host.empty() ? "0.0.0.0" : l.host;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) {
      asio::ip::tcp::resolver resolver(impl_->loops[0]->context());
      auto results = resolver.resolve(host, std::to_string(l.port), ec);
      if (ec || results.empty())
        return Status(ErrorCode::UNKNOWN_SERVER_ERROR,
                      "cannot resolve listener host '" + host + "' of " + l.name);
      addr = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(addr, l.port);
    auto acc = std::make_unique<tcp::acceptor>(impl_->loops[0]->context());
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status(ErrorCode::UNKNOWN_SERVER_ERROR, "cannot listen on " + host + ":" +
                                                         std::to_string(l.port) + " (" + l.name +
                                                         "): " + ec.message());
    impl_->bound_ports.push_back(acc->local_endpoint().port());
    impl_->tls_contexts.push_back(l.security && l.security->tls ? asio_context(l.security->tls) : nullptr);
    impl_->acceptors.push_back(std::move(acc));
    impl_->accept_timers.push_back(std::make_unique<asio::steady_timer>(impl_->loops[0]->context()));
  }
  impl_->backoffs.resize(impl_->acceptors.size());
  impl_->resting.assign(impl_->acceptors.size(), false);
  impl_->at_max_connections.assign(impl_->acceptors.size(), false);
  impl_->parked.resize(impl_->acceptors.size());
  for (size_t i = 0; i < impl_->acceptors.size(); ++i)
    if (!impl_->options.listeners[i].deferred) impl_->accept(i);
  return {};
}

void Network::serve_deferred() {
  asio::post(impl_->loops[0]->context(), [i = impl_.get()] {
    if (i->stopping) return;
    for (size_t n = 0; n < i->acceptors.size(); ++n)
      if (i->options.listeners[n].deferred) i->accept(n);
  });
}

void Network::set_tls_context(const std::string& listener, security::TlsContext tls) {
  if (impl_->loops.empty()) return;
  asio::post(impl_->loops[0]->context(), [i = impl_.get(), listener, tls = std::move(tls)] {
    for (size_t n = 0; n < i->options.listeners.size() && n < i->tls_contexts.size(); ++n)
      if (i->options.listeners[n].name == listener && i->tls_contexts[n]) i->tls_contexts[n] = asio_context(tls);
  });
}

uint16_t Network::bound_port(size_t i) const { return impl_->bound_ports.at(i); }

int64_t Network::open_connections() const { return impl_->connections.load(); }

int64_t Network::queued_request_bytes() const { return impl_->queued_bytes.load(); }

void Network::stop(std::chrono::milliseconds grace) {
  if (impl_->loops.empty() || impl_->stopping.exchange(true)) return;
  asio::post(impl_->loops[0]->context(), [i = impl_.get()] {
    boost::system::error_code ec;
    for (auto& a : i->acceptors) a->close(ec);
    for (auto& t : i->accept_timers) t->cancel();
  });
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lk(impl_->conns_mu);
    for (auto& w : impl_->conns)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->drain();
  live.clear();
  auto deadline = Clock::now() + grace;
  while (impl_->connections.load() > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    std::lock_guard lk(impl_->conns_mu);
    for (auto& w : impl_->conns)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  // Whatever is still open after the grace period is closed on its own loop; then each loop
  // is allowed to run out of work. A loop still busy a second later is stopped outright.
  for (auto& c : live) c->force_close();
  live.clear();
  for (auto& loop : impl_->loops) loop->stop(std::chrono::seconds(1));
  impl_->parked.clear();
  impl_->accept_timers.clear();
  impl_->acceptors.clear();
  impl_->tls_contexts.clear();
}

}  // namespace kb::server
