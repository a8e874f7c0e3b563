#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <list>
#include <map>
#include <mutex>
#include <optional>

#include "runtime/clock.h"
#include "runtime/loop_thread.h"
#include "runtime/rate_limited_log.h"
#include "server/network_limits.h"

namespace kb::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

HttpResponse plain(int status, std::string message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(message) + "\n";
  return r;
}

class Session;

// What the sessions of one server share. Answers given on other threads reach the server's
// loop through post(), which drops them once the server stopped (its loop and sockets may be
// gone by then). Sessions waiting for their handler's answer are held in `waiting`, never by
// the answer callback itself, so a handler that keeps a callback past shutdown never keeps a
// socket alive past its io_context.
struct Shared {
  HttpLimits limits;
  std::mutex mu;
  runtime::LoopThread* loop = nullptr;  // null once stopped
  std::map<Session*, std::shared_ptr<Session>> waiting;  // on the loop thread
  std::atomic<size_t> connections{0};
  std::atomic<int64_t> last_refusal_log_ms{0};

  void post(std::function<void()> fn) {
    std::lock_guard lk(mu);
    if (loop) loop->post(std::move(fn));
  }
};

// One connection: requests read and answered one at a time, every step async and bounded.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpListener& listener, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), listener_(listener), shared_(std::move(shared)) {}
  ~Session() { --shared_->connections; }

  void start() { read_header(); }

  // On the loop: writes the handler's answer, then reads the next request (or closes).
  void write(HttpResponse res) {
    auto self = shared_from_this();
    shared_->waiting.erase(this);
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(version_);
    msg->result(static_cast<unsigned>(res.status));
    msg->set(http::field::server, "kbroker");
    msg->set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) msg->set(k, v);
    if (!head_) msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive_ && !close_after_);
    msg->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(shared_->limits.write_timeout_ms));
    http::async_write(stream_, *msg, [self, msg](beast::error_code ec, size_t) {
      if (ec) return self->close();
      if (self->close_after_) return self->linger();
      if (!msg->keep_alive()) return self->close();
      self->read_header();
    });
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(shared_->limits.max_header_bytes);
    parser_->body_limit(listener_.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(shared_->limits.read_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->failed_read(ec);
      self->on_header();
    });
  }

  void on_header() {
    const auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    if (auto len = parser_->content_length(); len && *len > listener_.max_body_bytes)
      return refuse(413, too_large());
    if (lower(req[http::field::expect]) == "100-continue") {
      // curl sends larger bodies only after this (or after waiting a second for it).
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->failed_read(ec);
      self->dispatch();
    });
  }

  std::string too_large() const {
    return "Request body is larger than " + std::to_string(listener_.max_body_bytes) + " bytes (" +
           listener_.name + " accepts at most that; see schema.registry.max.request.bytes)";
  }

  void failed_read(beast::error_code ec) {
    if (ec == http::error::body_limit) return refuse(413, too_large());
    if (ec == http::error::header_limit) return refuse(431, "Request header fields too large");
    // A clean close between requests, a timeout, a reset: nothing to answer.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == beast::error::timeout ||
        ec.category() != http::make_error_code(http::error::bad_method).category())
      return close();
    refuse(400, "Malformed HTTP request: " + ec.message());
  }

  void refuse(int status, std::string message) {
    close_after_ = true;
    write(listener_.error_response ? listener_.error_response(status, std::move(message))
                                   : plain(status, std::move(message)));
  }

  void dispatch() {
    auto& req = parser_->get();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) r.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
    r.body = std::move(req.body());
    parser_.reset();
    stream_.expires_never();  // the handler owns the wait for its answer
    shared_->waiting.emplace(this, shared_from_this());
    auto answered = std::make_shared<std::atomic<bool>>(false);
    HttpRespond respond = [weak = weak_from_this(), shared = shared_, answered](HttpResponse res) {
      if (answered->exchange(true)) return;
      shared->post([weak, res = std::move(res)]() mutable {
        if (auto s = weak.lock()) s->write(std::move(res));
      });
    };
    listener_.handler(std::move(r), std::move(respond));
  }

  // After a refusal: stop sending, then read and drop what the client still sends for a
  // while, so it gets to read the answer instead of a reset (a client sends its whole body
  // before it reads).
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(5));
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const HttpListener& listener_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool close_after_ = false;
  std::array<char, 16384> scratch_;
};

// The metrics listener's routes.
HttpHandler metrics_handler(HttpServer::Routes routes) {
  return [routes = std::move(routes)](HttpRequest req, HttpRespond respond) {
    std::string target = req.target;
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    HttpResponse res;
    if (req.method != "GET" && req.method != "HEAD") {
      res = plain(405, "only GET");
    } else if (target == "/metrics") {
      res.content_type = "text/plain; version=0.0.4; charset=utf-8";
      res.body = routes.metrics ? routes.metrics() : std::string();
    } else if (target == "/health") {
      bool ok = !routes.healthy || routes.healthy();
      res = plain(ok ? 200 : 503, ok ? "ok" : "unavailable");
    } else if (target == "/ready" && routes.ready) {
      auto [ready, body] = routes.ready();
      res.status = ready ? 200 : 503;
      res.content_type = "application/json";
      res.body = std::move(body);
    } else {
      res = plain(404, "not found; try /metrics, /health or /ready");
    }
    respond(std::move(res));
  };
}

}  // namespace

struct HttpServer::Impl {
  struct Acceptor {
    HttpListener listener;
    std::unique_ptr<tcp::acceptor> acceptor;
    uint16_t bound = 0;
    AcceptBackoff backoff;
  };
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  // Before the acceptors and sessions: destroyed after them.
  runtime::LoopThread loop{"kb-http"};
  std::list<Acceptor> acceptors;  // stable addresses: sessions refer to their listener
  bool stopped = false;
  runtime::RateLimitedLog accept_log;  // keyed by listener

  void accept(Acceptor& a) {
    a.acceptor->async_accept([this, &a](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors the next accept fails at once: rest (network_limits.h).
        const int64_t pause_ms = a.backoff.after_failure(ec.value());
        accept_log.warn(a.listener.name, "HTTP: accept failed on {}: {}", a.listener.name, ec.message());
        if (pause_ms > 0) {
          loop.after_ms(pause_ms, [this, &a] { accept(a); });
          return;
        }
      } else {
        a.backoff.after_success();
        if (++shared->connections > shared->limits.max_connections) {
          --shared->connections;
          socket.close(ec);
          int64_t now = runtime::steady_ms();
          if (now - shared->last_refusal_log_ms.exchange(now) > 10000)
            spdlog::warn("HTTP: {} connections open (the limit): new ones are closed at once",
                         shared->limits.max_connections);
        } else {
          std::make_shared<Session>(std::move(socket), a.listener, shared)->start();
        }
      }
      accept(a);
    });
  }
};

HttpServer::HttpServer(std::string host, uint16_t port, Routes routes, HttpLimits limits)
    : impl_(std::make_shared<Impl>()) {
  impl_->shared->limits = limits;
  impl_->shared->loop = &impl_->loop;
  HttpListener metrics;
  metrics.name = "metrics.listener";
  metrics.host = std::move(host);
  metrics.port = port;
  metrics.handler = metrics_handler(std::move(routes));
  add_listener(std::move(metrics));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add_listener(HttpListener listener) {
  impl_->acceptors.push_back({std::move(listener), std::make_unique<tcp::acceptor>(impl_->loop.context()), 0, {}});
}

Status HttpServer::start() {
  for (auto& a : impl_->acceptors) {
    const HttpListener& l = a.listener;
    auto failed = [&](const std::string& why) {
      return Status(ErrorCode::UNKNOWN_SERVER_ERROR,
                    "cannot listen on " + l.name + " " + l.host + ":" + std::to_string(l.port) + ": " + why);
    };
    beast::error_code ec;
    auto addr = asio::ip::make_address(l.host.empty() ? "0.0.0.0" : l.host, ec);
    if (ec) {
      tcp::resolver resolver(impl_->loop.context());
      auto results = resolver.resolve(l.host, std::to_string(l.port), ec);
      if (ec || results.empty()) return failed("cannot resolve the host");
      addr = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(addr, l.port);
    a.acceptor->open(ep.protocol(), ec);
    if (!ec) a.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.acceptor->bind(ep, ec);
    if (!ec) a.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return failed(ec.message());
    a.bound = a.acceptor->local_endpoint().port();
  }
  for (auto& a : impl_->acceptors) impl_->loop.post([i = impl_.get(), &a] { i->accept(a); });
  return {};
}

void HttpServer::stop() {
  if (std::exchange(impl_->stopped, true)) return;
  {
    std::lock_guard lk(impl_->shared->mu);
    impl_->shared->loop = nullptr;
  }
  impl_->loop.stop(std::chrono::milliseconds(0));
  // The loop is joined: the sessions still waiting for an answer go now, while their
  // io_context exists.
  impl_->shared->waiting.clear();
}

uint16_t HttpServer::bound_port(size_t listener) const {
  size_t i = 0;
  for (const auto& a : impl_->acceptors)
    if (i++ == listener) return a.bound;
  return 0;
}

}  // namespace kb::server
