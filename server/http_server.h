// The broker's HTTP server (Boost.Beast): GET /metrics (Prometheus text format), GET /health
// (the process is alive) and GET /ready (it should take traffic; server/readiness.h) on
// `metrics.listener`, and any further listener a subsystem adds (the Schema Registry's REST
// API on `schema.registry.listener`). One thread of its own (`kb-http`), so a slow scrape or
// REST client never delays Kafka traffic.
//
// Every socket operation is asynchronous and bounded: reading a request (header and body) and
// writing an answer each have a timeout, a connection idle between requests is closed after
// the read timeout, and past `max_connections` open connections a new one is closed at once;
// so one slow or stuck client never holds back another. Handlers answer asynchronously:
// `respond` may be called later and from any thread (e.g. once a write is replicated); the
// connection waits for it without a timeout of its own (the handler owns that). Bodies are
// limited per listener (a larger one is answered 413 without being read); malformed requests
// are answered 400, oversized headers 431, and the connection is closed after those.
//
// Owner: Broker. add_listener() before start(); start() then stop() once. Handlers run on the
// server's thread and must not block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/types.h"

namespace kb::server {

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  // The first header named `name` (lower case), "" when absent.
  std::string header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

// Answers one request, exactly once, from any thread.
using HttpRespond = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, HttpRespond)>;

struct HttpListener {
  std::string name;  // the property it comes from, for messages ("schema.registry.listener")
  std::string host;
  uint16_t port = 0;  // 0: any free port
  HttpHandler handler;
  size_t max_body_bytes = 64 * 1024;
  // The server's own refusals (400, 413, 431) in the listener's dialect; plain text when unset.
  std::function<HttpResponse(int status, std::string message)> error_response;
};

struct HttpLimits {
  size_t max_connections = 1000;  // over all listeners
  int64_t read_timeout_ms = 30000;   // a whole request, or the wait for the next one
  int64_t write_timeout_ms = 30000;  // a whole answer
  uint32_t max_header_bytes = 16 * 1024;
};

class HttpServer {
 public:
  struct Routes {
    std::function<std::string()> metrics;  // body of /metrics
    std::function<bool()> healthy;         // /health: 200 "ok" or 503
    // /ready: {ready, JSON body}, answered 200 or 503 (404 when unset).
    std::function<std::pair<bool, std::string>()> ready;
  };
  // The metrics endpoint on host:port (listener 0).
  HttpServer(std::string host, uint16_t port, Routes routes, HttpLimits limits = {});
  ~HttpServer();

  // Before start(). Listeners are numbered in the order added, after the metrics one.
  void add_listener(HttpListener listener);
  // Binds every listener; an error names the listener's property and address.
  Status start();
  // Stops accepting and cuts connections off: nothing waits for an HTTP answer at shutdown.
  // Answers given later are dropped.
  void stop();
  uint16_t bound_port(size_t listener = 0) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::server
