#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "server/network.h"

#include <sys/sendfile.h>

#include <atomic>
#include <boost/asio.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "protocol/messages/response_header.h"
#include "runtime/loop_thread.h"
#include "server/broker.h"
#include "server/dispatch.h"
#include "server/metrics.h"

namespace kb::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// One network thread: a connection lives on one loop for its whole life.
using Loop = runtime::LoopThread;

class Connection;

struct Network::Impl {
  NetworkOptions options;
  Broker& broker;
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<uint16_t> bound_ports;
  std::atomic<size_t> next_loop{0};
  std::atomic<int64_t> connections{0};
  std::atomic<bool> stopping{false};

  std::mutex conns_mu;
  std::list<std::weak_ptr<Connection>> conns;  // for shutdown

  Impl(NetworkOptions o, Broker& b) : options(std::move(o)), broker(b) {}
  void accept(size_t i);
};

// One client connection. Lives on one loop; all members are touched only on that thread.
// Requests may be pipelined: each gets a slot, and answers leave in slot order even when a
// later request finishes first.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Network::Impl& net, Loop& loop, tcp::socket socket, std::string listener)
      : net_(net),
        loop_(loop),
        socket_(std::move(socket)),
        idle_timer_(loop.context()),
        listener_(std::move(listener)) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void start() {
    if (closed_) return;  // closed by a shutdown before it started
    started_ = true;
    net_.connections.fetch_add(1);
    net_.broker.metrics().connection_opened();
    // A peer may already be gone: options that fail here are harmless, the first read says so.
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    if (net_.options.socket_send_buffer_bytes > 0)
      socket_.set_option(asio::socket_base::send_buffer_size(net_.options.socket_send_buffer_bytes), ec);
    if (net_.options.socket_receive_buffer_bytes > 0)
      socket_.set_option(
          asio::socket_base::receive_buffer_size(net_.options.socket_receive_buffer_bytes), ec);
    last_active_ = Clock::now();
    arm_idle_timer();
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

  void read_size() {
    if (draining_ || closed_) return;
    if (static_cast<int>(slots_.size()) >= net_.options.max_in_flight_per_connection) {
      read_paused_ = true;  // resumed when answers drain
      return;
    }
    reading_ = true;
    asio::async_read(socket_, asio::buffer(size_buf_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       self->reading_ = false;
                       if (self->closed_) return;
                       if (ec) return self->on_read_error(ec);
                       self->on_size();
                     });
  }

  void on_size() {
    int32_t size = static_cast<int32_t>(wire::load_be32(size_buf_.data()));
    if (size <= 0 || size > net_.options.max_request_bytes) {
      spdlog::warn("closing connection from {}: request size {} outside 1..{} (socket.request.max.bytes)",
                   peer_, size, net_.options.max_request_bytes);
      return close();
    }
    auto frame = std::make_shared<Frame>(static_cast<size_t>(size));
    reading_ = true;
    asio::async_read(socket_, asio::buffer(*frame),
                     [self = shared_from_this(), frame](const boost::system::error_code& ec, size_t) {
                       self->reading_ = false;
                       if (self->closed_) return;
                       if (ec) return self->on_read_error(ec);
                       self->on_frame(frame);
                     });
  }

  void on_read_error(const boost::system::error_code& ec) {
    if (ec != asio::error::eof && ec != asio::error::operation_aborted &&
        ec != asio::error::connection_reset)
      spdlog::debug("read from {} failed: {}", peer_, ec.message());
    // The peer is gone (or half-closed): answers already owed are still written if possible,
    // then the connection closes.
    peer_closed_ = true;
    if (slots_.empty() || !socket_.is_open()) close();
  }

  void on_frame(std::shared_ptr<Frame> frame) {
    last_active_ = Clock::now();
    ParsedRequest parsed;
    if (parse_request(std::move(frame), peer_, parsed) == ParseOutcome::kClose) {
      close_after_pending_ = true;
      if (slots_.empty()) close();
      return;
    }
    uint64_t seq = next_seq_++;
    slots_.push_back(Slot{seq, parsed.ctx.api_key, parsed.ctx.api_version, parsed.ctx.correlation_id,
                          parsed.response_header_version, Clock::now(), std::nullopt});
    parsed.ctx.broker = &net_.broker;
    parsed.ctx.scheduler = &loop_;
    parsed.ctx.listener = listener_;
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

  void complete(uint64_t seq, Response&& r) {
    if (closed_) return;
    for (auto& s : slots_) {
      if (s.seq == seq) {
        s.response.emplace(std::move(r));
        break;
      }
    }
    bool close_now = false;
    while (!slots_.empty() && slots_.front().response) {
      Slot& s = slots_.front();
      net_.broker.metrics().request_completed(
          s.api_key, std::chrono::duration<double>(Clock::now() - s.started).count());
      if (s.response->send) enqueue_response(s);
      if (s.response->close_after) close_now = true;
      slots_.pop_front();
      if (close_now) break;
    }
    if (close_now) {
      close_after_pending_ = true;
      slots_.clear();
    }
    start_write();
    if (read_paused_ && !closed_ &&
        static_cast<int>(slots_.size()) < net_.options.max_in_flight_per_connection) {
      read_paused_ = false;
      read_size();
    }
    maybe_close_drained();
  }

  void enqueue_response(Slot& s) {
    auto body = std::make_shared<wire::Writer>(std::move(s.response->body));
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
      if (part.file) {
        out_.push_back(OutChunk{nullptr, body, nullptr, 0, part.file, 0});
      } else if (!part.bytes.empty()) {
        out_.push_back(OutChunk{nullptr, body, part.bytes.data(), part.bytes.size(), nullptr, 0});
      }
    }
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
    asio::async_write(socket_, bufs,
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

  void maybe_close_drained() {
    if ((draining_ || close_after_pending_) && slots_.empty() && out_.empty() && !writing_) close();
  }

 public:
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    idle_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    slots_.clear();
    out_.clear();
    if (started_) {
      net_.connections.fetch_sub(1);
      net_.broker.metrics().connection_closed();
    }
  }

 private:
  Network::Impl& net_;
  Loop& loop_;
  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  std::string peer_;
  std::array<uint8_t, 4> size_buf_{};
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
};

void Network::Impl::accept(size_t i) {
  size_t li = next_loop.fetch_add(1) % loops.size();
  Loop& loop = *loops[li];
  acceptors[i]->async_accept(loop.context(), [this, i, &loop](const boost::system::error_code& ec,
                                                          tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping) return;
      spdlog::warn("accept failed on listener {}: {}", options.listeners[i].name, ec.message());
    } else if (!stopping) {
      auto conn = std::make_shared<Connection>(*this, loop, std::move(socket), options.listeners[i].name);
      {
        std::lock_guard lk(conns_mu);
        // Forget connections that are gone, so the list does not grow without bound.
        for (auto it = conns.begin(); it != conns.end();) it = it->expired() ? conns.erase(it) : std::next(it);
        conns.push_back(conn);
      }
      asio::post(loop.context(), [conn] { conn->start(); });
    }
    accept(i);
  });
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
    impl_->acceptors.push_back(std::move(acc));
  }
  for (size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
  return {};
}

uint16_t Network::bound_port(size_t i) const { return impl_->bound_ports.at(i); }

int64_t Network::open_connections() const { return impl_->connections.load(); }

void Network::stop(std::chrono::milliseconds grace) {
  if (impl_->loops.empty() || impl_->stopping.exchange(true)) return;
  for (auto& acc : impl_->acceptors) {
    asio::post(impl_->loops[0]->context(), [a = acc.get()] {
      boost::system::error_code ec;
      a->close(ec);
    });
  }
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
  impl_->acceptors.clear();
}

}  // namespace kb::server
