// Helpers shared by the controller tests: a temporary directory, a broker node (config, real
// LogManager, the Controller on a quorum of one) that can be reopened on the same directory,
// a log that commits at once, and record builders.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <functional>
#include <memory>
#include <string>

#include "controller/controller.h"
#include "controller/controller_quorum.h"
#include "controller/metadata_image.h"
#include "controller/metadata_records.h"

namespace kbtest {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kb-ctl-XXXXXX";
    char* p = mkdtemp(tmpl);
    path = p ? fs::path(p) : fs::path();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline kb::config::BrokerConfig broker_config(const fs::path& dir, const std::string& extra = "",
                                              int port = 9092) {
  return kb::config::BrokerConfig::from_yaml("node.id: 1\nlog.dirs: " + dir.string() +
                                             "\nlisteners: PLAINTEXT://127.0.0.1:" + std::to_string(port) + "\n" +
                                             extra);
}

// One lone broker's storage and controller on `dir`, wired as the broker wires them: the
// Controller on a quorum of one over `__cluster_metadata-0`. Like the broker's lifecycle,
// it waits for its controller to become active, then registers this incarnation and
// heartbeats until unfenced. Destroying it shuts down cleanly; a Node on the same directory
// is the broker restarted.
struct Node {
  kb::config::BrokerConfig cfg;
  std::unique_ptr<kb::storage::LogManager> logs;
  std::unique_ptr<kb::runtime::PeerClient> peers;
  std::unique_ptr<kb::controller::ControllerQuorum> quorum;
  kb::controller::Controller* ctl = nullptr;  // null when opening failed
  kb::Status opened;
  const kb::Uuid incarnation = kb::Uuid::random();

  explicit Node(const kb::config::BrokerConfig& config) : cfg(config) {
    kb::storage::LogManagerOptions o;
    for (const auto& d : cfg.log_dirs()) o.log_dirs.emplace_back(d);
    auto lm = kb::storage::LogManager::open(o);
    if (!lm.ok()) {
      opened = lm.error();
      return;
    }
    logs = std::move(lm.value());
    auto cluster_id = kb::controller::ensure_cluster_id(cfg);
    if (!cluster_id.ok()) {
      opened = cluster_id.error();
      return;
    }
    peers = std::make_unique<kb::runtime::PeerClient>("test-quorum");
    auto q = kb::controller::open_controller_quorum(cfg, cluster_id.value(), *logs, *peers);
    if (!q.ok()) {
      opened = q.error();
      return;
    }
    quorum = std::move(q.value());
    opened = start();
    if (opened.ok()) ctl = quorum->controller.get();
  }
  explicit Node(const fs::path& dir, const std::string& extra = "", int port = 9092)
      : Node(broker_config(dir, extra, port)) {}
  ~Node() {
    quorum.reset();
    if (peers) peers->stop();
    if (logs) logs->shutdown();
  }

  // A bounded wait for the quorum of one to elect itself and apply the log; then a failed
  // replay (an undecodable committed record) is the start's error.
  kb::Status start() {
    kb::controller::Controller& c = *quorum->controller;
    for (int i = 0; i < 2000 && !c.active() && c.failure().ok(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!c.failure().ok()) return c.failure();
    if (!c.active()) return kb::Status(kb::ErrorCode::REQUEST_TIMED_OUT, "the quorum of one never became active");
    kb::controller::BrokerRegistration reg;
    reg.id = cfg.node_id();
    reg.incarnation_id = incarnation;
    for (const auto& l : cfg.advertised_listeners()) {
      reg.endpoints.push_back({l.name, l.host, l.port});
      reg.security_protocols.push_back(kb::controller::security_protocol_id(l.security_protocol));
    }
    reg.rack = cfg.raw("broker.rack");
    if (reg.rack && reg.rack->empty()) reg.rack.reset();
    auto epoch = c.register_broker(reg);
    if (!epoch.ok()) return epoch.error();
    for (int i = 0; i < 2; ++i) {
      auto hb = c.heartbeat(reg.id, epoch.value(), c.image()->offset(), false, false);
      if (hb.error != kb::ErrorCode::NONE) return kb::Status(hb.error, "heartbeat refused");
    }
    const kb::controller::BrokerInfo* me = c.image()->broker(reg.id);
    if (!me || me->fenced) return kb::Status(kb::ErrorCode::UNKNOWN_SERVER_ERROR, "not unfenced");
    return {};
  }
};

inline kb::controller::CreateTopicSpec spec(std::string name, int32_t partitions = -1, int16_t rf = -1,
                                            std::map<std::string, std::string> configs = {}) {
  kb::controller::CreateTopicSpec s;
  s.name = std::move(name);
  s.num_partitions = partitions;
  s.replication_factor = rf;
  s.configs = std::move(configs);
  return s;
}

inline kb::metadata::RegisterBrokerRecord register_broker(int32_t id, int64_t epoch, bool fenced, int port = 9092) {
  kb::metadata::RegisterBrokerRecord r;
  r.broker_id = id;
  r.broker_epoch = epoch;
  r.incarnation_id = kb::Uuid::random();
  kb::metadata::RegisterBrokerRecord::BrokerEndpoint e;
  e.name = "PLAINTEXT";
  e.host = "host-" + std::to_string(id);
  e.port = static_cast<uint16_t>(port);
  r.end_points.push_back(e);
  r.fenced = fenced;
  return r;
}

inline kb::metadata::TopicRecord topic_record(std::string name, kb::Uuid id) {
  kb::metadata::TopicRecord r;
  r.name = std::move(name);
  r.topic_id = id;
  return r;
}

inline kb::metadata::PartitionRecord partition_record(kb::Uuid topic, int32_t p, std::vector<int32_t> replicas) {
  kb::metadata::PartitionRecord r;
  r.topic_id = topic;
  r.partition_id = p;
  r.replicas = replicas;
  r.isr = replicas;
  r.leader = replicas.front();
  r.leader_epoch = 0;
  r.partition_epoch = 0;
  return r;
}

inline kb::metadata::ConfigRecord topic_config(std::string topic, std::string name, std::optional<std::string> value) {
  kb::metadata::ConfigRecord r;
  r.resource_type = static_cast<int8_t>(kb::controller::ConfigResourceType::kTopic);
  r.resource_name = std::move(topic);
  r.name = std::move(name);
  r.value = std::move(value);
  return r;
}

// The metadata log of a lone active controller in a replicated setup: every append is
// committed at once and applied to `controller` (set it after opening the controller).
class CommittingLog : public kb::controller::MetadataLog {
 public:
  kb::controller::Controller* controller = nullptr;
  int64_t end = 0;
  kb::Result<int64_t> append(const std::vector<kb::controller::MetadataRecord>& records) override {
    kb::controller::MetadataBatch b{end, end + static_cast<int64_t>(records.size()) - 1, records};
    end = b.last_offset + 1;
    controller->apply_committed(b);
    return b.last_offset;
  }
  int64_t end_offset() const override { return end; }
};

}  // namespace kbtest
