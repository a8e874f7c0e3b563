#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>


#include "runtime/loop_thread.h"

namespace kb::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, const HttpServer::Routes& routes)
      : stream_(std::move(socket)), routes_(routes) {}

  void start() { read(); }

 private:
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->respond();
                     });
  }

  void respond() {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(req_.version());
    res->keep_alive(req_.keep_alive());
    res->set(http::field::server, "kbroker");
    std::string target(req_.target());
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    if (req_.method() != http::verb::get && req_.method() != http::verb::head) {
      res->result(http::status::method_not_allowed);
      res->set(http::field::content_type, "text/plain");
      res->body() = "only GET\n";
    } else if (target == "/metrics") {
      res->result(http::status::ok);
      res->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res->body() = routes_.metrics ? routes_.metrics() : std::string();
    } else if (target == "/health") {
      bool ok = !routes_.healthy || routes_.healthy();
      res->result(ok ? http::status::ok : http::status::service_unavailable);
      res->set(http::field::content_type, "text/plain");
      res->body() = ok ? "ok\n" : "unavailable\n";
    } else {
      res->result(http::status::not_found);
      res->set(http::field::content_type, "text/plain");
      res->body() = "not found; try /metrics or /health\n";
    }
    if (req_.method() == http::verb::head) res->body().clear();
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !res->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  const HttpServer::Routes& routes_;
};

}  // namespace

struct HttpServer::Impl {
  std::string host;
  uint16_t port;
  Routes routes;
  runtime::LoopThread loop{"kb-http"};
  tcp::acceptor acceptor{loop.context()};
  uint16_t bound = 0;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else {
        std::make_shared<HttpSession>(std::move(socket), routes)->start();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(std::string host, uint16_t port, Routes routes)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->routes = std::move(routes);
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  beast::error_code ec;
  auto addr = asio::ip::make_address(impl_->host.empty() ? "0.0.0.0" : impl_->host, ec);
  if (ec) {
    tcp::resolver resolver(impl_->loop.context());
    auto results = resolver.resolve(impl_->host, std::to_string(impl_->port), ec);
    if (ec || results.empty())
      return Status(ErrorCode::UNKNOWN_SERVER_ERROR,
                    "cannot resolve metrics.listener host '" + impl_->host + "'");
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, impl_->port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status(ErrorCode::UNKNOWN_SERVER_ERROR,
                  "cannot listen on metrics.listener " + impl_->host + ":" +
                      std::to_string(impl_->port) + ": " + ec.message());
  impl_->bound = impl_->acceptor.local_endpoint().port();
  impl_->loop.post([i = impl_.get()] { i->accept(); });
  return {};
}

// Scrapes in progress are cut off: nothing waits for an HTTP answer at shutdown.
void HttpServer::stop() { impl_->loop.stop(std::chrono::milliseconds(0)); }

uint16_t HttpServer::bound_port() const { return impl_->bound; }

}  // namespace kb::server
