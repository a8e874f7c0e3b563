#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "runtime/peer_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <deque>
#include <map>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "protocol/messages/sasl_authenticate_request.h"
#include "protocol/messages/sasl_authenticate_response.h"
#include "protocol/messages/sasl_handshake_request.h"
#include "protocol/messages/sasl_handshake_response.h"
#include "runtime/loop_thread.h"
#include "runtime/rate_limited_log.h"
#include "security/sasl_client.h"

namespace kb::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Largest answer accepted from a peer (a fetch of replicated data is bounded by
// replica.fetch.response.max.bytes; this guards against a peer sending garbage lengths).
constexpr int32_t kMaxResponseBytes = 256 << 20;

// SaslHandshake and SaslAuthenticate of a connection's login wait this long for their answer.
constexpr int64_t kHandshakeTimeoutMs = 30'000;

// What every connection of one client shares; lives as long as the client's connections.
struct PeerSettings {
  PeerSettings(std::string id, PeerSecurity s) : client_id(std::move(id)), security(std::move(s)) {
    if (security.tls) {
      // Asio's context takes a reference of its own on the shared SSL_CTX.
      SSL_CTX_up_ref(security.tls.get());
      tls = std::make_unique<asio::ssl::context>(security.tls.get());
    }
  }
  const std::string client_id;
  const PeerSecurity security;
  std::unique_ptr<asio::ssl::context> tls;  // SSL and SASL_SSL
  RateLimitedLog handshake_log;             // failed TLS or SASL handshakes, by node
};

using TlsStream = asio::ssl::stream<tcp::socket>;

struct Pending {
  int16_t api_key;
  int16_t api_version;
  PeerClient::Callback done;
  std::shared_ptr<asio::steady_timer> timer;
};

// One connection to one node; everything runs on the client's thread. (In this file's
// unnamed namespace, so no other Connection class can clash with it.)
struct PeerConnection : std::enable_shared_from_this<PeerConnection> {
  PeerConnection(asio::io_context& ctx, int32_t node, PeerAddress address, std::shared_ptr<PeerSettings> settings)
      : socket(ctx), resolver(ctx), node(node), address(std::move(address)), settings(std::move(settings)) {}

  tcp::socket socket;  // plaintext connections
  // TLS connections: a new stream per connection attempt; every operation's handler holds the
  // stream it runs on, so a close() meanwhile cannot free it under the operation.
  std::shared_ptr<TlsStream> tls;
  tcp::resolver resolver;
  const int32_t node;
  const PeerAddress address;
  const std::shared_ptr<PeerSettings> settings;
  // Handshaking: TCP is up, TLS and SASL are not done; only the login's own requests go out.
  enum class State { Idle, Connecting, Handshaking, Ready, Failed } state = State::Idle;
  // Bumped by close(): completions of an earlier connection's operations find it changed and
  // do nothing (they must not close the next connection, nor touch its queue).
  uint64_t generation = 0;
  std::deque<std::vector<uint8_t>> out;        // frames not written yet
  std::deque<std::vector<uint8_t>> login_out;  // SaslHandshake / SaslAuthenticate frames
  std::unique_ptr<security::SaslClientExchange> sasl;
  bool writing = false;
  std::map<int32_t, Pending> in_flight;  // by correlation id
  int32_t next_correlation = 1;
  uint8_t size_buf[4];
  std::vector<uint8_t> body;

  tcp::socket& lowest() { return tls ? tls->next_layer() : socket; }

  template <class Buffer, class Handler>
  void write_all(Buffer buffer, Handler handler) {
    if (!tls) return asio::async_write(socket, buffer, std::move(handler));
    asio::async_write(*tls, buffer, [stream = tls, handler = std::move(handler)](const boost::system::error_code& ec,
                                                                                  size_t n) mutable { handler(ec, n); });
  }
  template <class Buffer, class Handler>
  void read_all(Buffer buffer, Handler handler) {
    if (!tls) return asio::async_read(socket, buffer, std::move(handler));
    asio::async_read(*tls, buffer, [stream = tls, handler = std::move(handler)](const boost::system::error_code& ec,
                                                                                 size_t n) mutable { handler(ec, n); });
  }

  void enqueue(int16_t api_key, int16_t api_version, std::vector<uint8_t> payload, int64_t timeout_ms,
               PeerClient::Callback done) {
    out.push_back(track(api_key, api_version, std::move(payload), timeout_ms, std::move(done)));
    if (state == State::Idle || state == State::Failed) connect();
    else if (state == State::Ready) write_next();
  }

  // Registers one request's answer callback and timeout; returns its frame.
  std::vector<uint8_t> track(int16_t api_key, int16_t api_version, std::vector<uint8_t> payload, int64_t timeout_ms,
                             PeerClient::Callback done) {
    int32_t correlation = next_correlation++;
    msg::RequestHeader h;
    h.request_api_key = api_key;
    h.request_api_version = api_version;
    h.correlation_id = correlation;
    h.client_id = settings->client_id;
    wire::Writer w;
    w.write_int32(0);  // size, patched below
    h.encode(w, msg::request_header_version(api_key, api_version));
    auto frame = std::move(w.buffer());
    frame.insert(frame.end(), payload.begin(), payload.end());
    uint32_t size = static_cast<uint32_t>(frame.size() - 4);
    frame[0] = static_cast<uint8_t>(size >> 24);
    frame[1] = static_cast<uint8_t>(size >> 16);
    frame[2] = static_cast<uint8_t>(size >> 8);
    frame[3] = static_cast<uint8_t>(size);
    auto timer = std::make_shared<asio::steady_timer>(socket.get_executor());
    timer->expires_after(std::chrono::milliseconds(timeout_ms));
    std::weak_ptr<PeerConnection> weak = shared_from_this();
    timer->async_wait([weak, correlation](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      // A timed-out request leaves the connection in an unknown state (its answer may still
      // come): drop the connection, as Kafka's NetworkClient does.
      self->fail_one(correlation, Error{ErrorCode::REQUEST_TIMED_OUT, "no answer from node " +
                                                                          std::to_string(self->node)});
      self->close(Error{ErrorCode::NETWORK_EXCEPTION, "connection reset after a timed-out request"});
    });
    in_flight.emplace(correlation, Pending{api_key, api_version, std::move(done), std::move(timer)});
    return frame;
  }

  void connect() {
    state = State::Connecting;
    tls.reset();
    if (settings->tls) tls = std::make_shared<TlsStream>(socket.get_executor(), *settings->tls);
    auto self = shared_from_this();
    const uint64_t gen = generation;
    resolver.async_resolve(
        address.host, std::to_string(address.port),
        [self, gen](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          if (gen != self->generation) return;
          if (ec) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "cannot resolve " + self->address.host});
          asio::async_connect(self->lowest(), results, [self, gen](const boost::system::error_code& ec2, const tcp::endpoint&) {
            if (gen != self->generation) return;
            if (ec2)
              return self->close(Error{ErrorCode::NETWORK_EXCEPTION,
                                       "cannot connect to node " + std::to_string(self->node) + ": " + ec2.message()});
            boost::system::error_code ignore;
            self->lowest().set_option(tcp::no_delay(true), ignore);
            self->state = State::Handshaking;
            self->start_tls();
          });
        });
  }

  std::string peer_name() const {
    return "node " + std::to_string(node) + " (" + address.host + ":" + std::to_string(address.port) + ")";
  }

  // Logged once per node per interval: a broker whose peer refuses its certificate or password
  // retries every backoff, and the first line says why.
  void fail_handshake(ErrorCode code, const std::string& why) {
    settings->handshake_log.warn(std::to_string(node), "{}", why);
    close(Error{code, why});
  }

  void start_tls() {
    if (!tls) return start_sasl();
    SSL* ssl = tls->native_handle();
    if (settings->security.verify_host) {
      // Kafka's https identification: the name (or IP address) connected to must be in the
      // server certificate's subject alternative names.
      boost::system::error_code not_ip;
      asio::ip::make_address(address.host, not_ip);
      if (!not_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address.host.c_str());
      } else {
        SSL_set1_host(ssl, address.host.c_str());
        SSL_set_tlsext_host_name(ssl, address.host.c_str());
      }
    }
    auto self = shared_from_this();
    const uint64_t gen = generation;
    tls->async_handshake(asio::ssl::stream_base::client,
                         [self, gen, stream = tls](const boost::system::error_code& ec) {
                           if (gen != self->generation) return;
                           if (ec)
                             return self->fail_handshake(ErrorCode::NETWORK_EXCEPTION,
                                                         "TLS handshake with " + self->peer_name() +
                                                             " failed: " + ec.message());
                           self->start_sasl();
                         });
  }

  // SaslHandshake v1 names the mechanism, then SaslAuthenticate v1 carries the tokens until
  // the exchange completes (Kafka's SaslClientAuthenticator, without the v0 raw-token form).
  void start_sasl() {
    read_size();
    if (settings->security.sasl_mechanism.empty()) return ready();
    const auto& sec = settings->security;
    sasl = std::make_unique<security::SaslClientExchange>(sec.sasl_mechanism, sec.sasl_username, sec.sasl_password);
    msg::SaslHandshakeRequest req;
    req.mechanism = sec.sasl_mechanism;
    login_request<msg::SaslHandshakeRequest, msg::SaslHandshakeResponse>(
        req, 1, [self = shared_from_this(), gen = generation](Result<msg::SaslHandshakeResponse> r) {
      if (gen != self->generation) return;
      if (!r.ok()) return;  // the connection closed or timed out: close() failed everything already
      if (r->error_code != 0) {
        std::string offered;
        for (const auto& m : r->mechanisms) offered += (offered.empty() ? "" : ", ") + m;
        return self->fail_handshake(ErrorCode::UNSUPPORTED_SASL_MECHANISM,
                                    self->peer_name() + " does not enable SASL mechanism " + self->sasl->mechanism() +
                                        " (it offers " + (offered.empty() ? "none" : offered) + ")");
      }
      self->authenticate(self->sasl->first());
    });
  }

  void authenticate(const std::string& token) {
    msg::SaslAuthenticateRequest req;
    req.auth_bytes.assign(token.begin(), token.end());
    login_request<msg::SaslAuthenticateRequest, msg::SaslAuthenticateResponse>(
        req, 1, [self = shared_from_this(), gen = generation](Result<msg::SaslAuthenticateResponse> r) {
      if (gen != self->generation || !r.ok()) return;
      const std::string who = "SASL " + self->sasl->mechanism() + " login to " + self->peer_name() + " as " +
                              self->settings->security.sasl_username + " failed: ";
      if (r->error_code != 0)
        return self->fail_handshake(ErrorCode::SASL_AUTHENTICATION_FAILED,
                                    who + r->error_message.value_or("error " + std::to_string(r->error_code)));
      auto next = self->sasl->next(std::string(r->auth_bytes.begin(), r->auth_bytes.end()));
      if (!next.ok()) return self->fail_handshake(ErrorCode::SASL_AUTHENTICATION_FAILED, who + next.error().message);
      if (*next) return self->authenticate(**next);
      self->ready();
    });
  }

  template <class Request, class Response>
  void login_request(const Request& req, int16_t version, std::function<void(Result<Response>)> done) {
    wire::Writer w;
    req.encode(w, version);
    login_out.push_back(track(Request::kApiKey, version, std::move(w.buffer()), kHandshakeTimeoutMs,
                              decoding_answer<Response>(version, std::move(done))));
    write_next();
  }

  void ready() {
    state = State::Ready;
    sasl.reset();
    write_next();
  }

  void write_next() {
    if (state != State::Ready && state != State::Handshaking) return;
    auto& queue = state == State::Ready ? out : login_out;
    if (writing || queue.empty()) return;
    writing = true;
    // The frame is owned by the write in progress: a close() meanwhile cannot free it.
    auto frame = std::make_shared<std::vector<uint8_t>>(std::move(queue.front()));
    queue.pop_front();
    auto self = shared_from_this();
    const uint64_t gen = generation;
    write_all(asio::buffer(*frame), [self, gen, frame](const boost::system::error_code& ec, size_t) {
      if (gen != self->generation) return;
      self->writing = false;
      if (ec) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "write to node " + std::to_string(self->node) +
                                                                         " failed: " + ec.message()});
      self->write_next();
    });
  }

  void read_size() {
    auto self = shared_from_this();
    const uint64_t gen = generation;
    read_all(asio::buffer(size_buf), [self, gen](const boost::system::error_code& ec, size_t) {
      if (gen != self->generation) return;
      if (ec) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "connection to node " +
                                                                         std::to_string(self->node) + " closed"});
      int32_t size = static_cast<int32_t>((uint32_t(self->size_buf[0]) << 24) | (uint32_t(self->size_buf[1]) << 16) |
                                          (uint32_t(self->size_buf[2]) << 8) | uint32_t(self->size_buf[3]));
      if (size < 4 || size > kMaxResponseBytes)
        return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "node " + std::to_string(self->node) +
                                                                   " sent a frame of " + std::to_string(size) +
                                                                   " bytes"});
      self->body.resize(static_cast<size_t>(size));
      self->read_all(asio::buffer(self->body), [self, gen](const boost::system::error_code& ec2, size_t) {
        if (gen != self->generation) return;
        if (ec2) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "connection to node " +
                                                                            std::to_string(self->node) + " closed"});
        self->on_response();
        // An answer's callback may have closed this connection (and a new one may be
        // connecting): only the connection that read it goes on reading.
        if (gen == self->generation) self->read_size();
      });
    });
  }

  void on_response() {
    wire::Reader r(std::span<const uint8_t>(body.data(), body.size()));
    int32_t correlation = r.read_int32();
    auto it = in_flight.find(correlation);
    if (!r.ok() || it == in_flight.end()) {
      spdlog::warn("node {} answered unknown correlation id {}", node, correlation);
      return;
    }
    Pending p = std::move(it->second);
    in_flight.erase(it);
    p.timer->cancel();
    // The correlation id was read; a flexible response header adds its tagged fields.
    if (msg::response_header_version(p.api_key, p.api_version) >= 1) {
      r = wire::Reader(std::span<const uint8_t>(body.data(), body.size()));
      msg::ResponseHeader h;
      if (!h.decode(r, 1)) return p.done(Error{ErrorCode::CORRUPT_MESSAGE, "bad response header"});
    }
    size_t consumed = body.size() - r.remaining();
    p.done(std::vector<uint8_t>(body.begin() + static_cast<std::ptrdiff_t>(consumed), body.end()));
  }

  void fail_one(int32_t correlation, const Error& e) {
    auto it = in_flight.find(correlation);
    if (it == in_flight.end()) return;
    Pending p = std::move(it->second);
    in_flight.erase(it);
    p.done(e);
  }

  // Fails everything outstanding and resets the connection; the next send reconnects.
  void close(const Error& e) {
    ++generation;
    boost::system::error_code ignore;
    lowest().close(ignore);
    state = State::Failed;
    out.clear();
    login_out.clear();
    sasl.reset();
    writing = false;
    auto pending = std::exchange(in_flight, {});
    for (auto& [c, p] : pending) {
      p.timer->cancel();
      p.done(e);
    }
  }
};

}  // namespace

struct PeerClient::Impl {
  Impl(std::string id, PeerSecurity security)
      : settings(std::make_shared<PeerSettings>(std::move(id), std::move(security))), loop("kb-peer-client") {}
  const std::shared_ptr<PeerSettings> settings;
  LoopThread loop;
  std::map<int32_t, std::shared_ptr<PeerConnection>> connections;  // loop thread only
  bool stopped = false;                                            // loop thread only
};

PeerClient::PeerClient(std::string client_id, PeerSecurity security)
    : impl_(std::make_shared<Impl>(std::move(client_id), std::move(security))) {}

PeerClient::~PeerClient() { stop(); }

void PeerClient::stop() {
  impl_->loop.post([impl = impl_.get()] {
    impl->stopped = true;
    for (auto& [node, c] : impl->connections) c->close(Error{ErrorCode::NETWORK_EXCEPTION, "client stopped"});
    impl->connections.clear();
  });
  impl_->loop.stop(std::chrono::seconds(1));
}

void PeerClient::send(int32_t node, const PeerAddress& to, int16_t api_key, int16_t api_version,
                      std::vector<uint8_t> body, int64_t timeout_ms, Callback done) {
  impl_->loop.post([impl = impl_.get(), node, to, api_key, api_version, body = std::move(body), timeout_ms,
                    done = std::move(done)]() mutable {
    if (impl->stopped) return done(Error{ErrorCode::NETWORK_EXCEPTION, "client stopped"});
    auto& c = impl->connections[node];
    if (c && !(c->address == to)) {
      c->close(Error{ErrorCode::NETWORK_EXCEPTION, "node " + std::to_string(node) + " moved"});
      c.reset();
    }
    if (!c) c = std::make_shared<PeerConnection>(impl->loop.context(), node, to, impl->settings);
    c->enqueue(api_key, api_version, std::move(body), timeout_ms, std::move(done));
  });
}

}  // namespace kb::runtime
