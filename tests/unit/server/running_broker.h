// An in-process broker on free loopback ports with its own data directory, for the server
// tests that talk to a real broker over the wire.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/peer_client.h"
#include "server/broker.h"

namespace kb::server::test {

struct RunningBroker {
  std::filesystem::path dir;
  std::unique_ptr<Broker> broker;
  explicit RunningBroker(const std::string& prefix = "/tmp/kb-peer-XXXXXX") {
    std::string tmpl = prefix;
    dir = ::mkdtemp(tmpl.data());
    auto config = config::BrokerConfig::from_yaml("node.id: 1\n"
                                                  "listeners: PLAINTEXT://127.0.0.1:0\n"
                                                  "log.dirs: " +
                                                  (dir / "data").string() +
                                                  "\n"
                                                  "metrics.listener: 127.0.0.1:0\n"
                                                  // not needed here, and 8081 may be taken
                                                  "schema.registry.enable: false\n"
                                                  "log.level: warn\n");
    broker = std::make_unique<Broker>(config);
    auto st = broker->start();
    INFO((st.ok() ? std::string() : st.error().message));
    REQUIRE(st.ok());
  }
  ~RunningBroker() {
    broker->stop();
    broker.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  runtime::PeerAddress address() const { return {"127.0.0.1", broker->kafka_port()}; }
};

}  // namespace kb::server::test
