// The broker's small HTTP endpoint (Boost.Beast) on `metrics.listener`: GET /metrics
// (Prometheus text format) and GET /health. One thread of its own, so a slow scrape never
// delays Kafka traffic. Owner: Broker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "protocol/types.h"

namespace kb::server {

class HttpServer {
 public:
  struct Routes {
    std::function<std::string()> metrics;  // body of /metrics
    std::function<bool()> healthy;         // /health: 200 "ok" or 503
  };
  HttpServer(std::string host, uint16_t port, Routes routes);
  ~HttpServer();
  Status start();
  void stop();
  uint16_t bound_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kb::server
