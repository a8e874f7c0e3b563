#include "server/broker.h"

#include <spdlog/spdlog.h>

#include <set>

#include "server/http_server.h"
#include "server/network.h"

namespace kb::server {

Broker::Broker(config::BrokerConfig config)
    : config_(std::move(config)), node_id_(config_.node_id()) {}

Broker::~Broker() { stop(); }

storage::LogConfig Broker::log_config_for(const std::map<std::string, std::string>& overrides) const {
  auto tc = config::TopicConfig::make(config_, overrides);
  if (!tc.ok()) {
    // Stored overrides were validated when written; fall back to defaults rather than refuse
    // to host the partition, and say so.
    spdlog::warn("ignoring invalid topic config: {}", tc.error().message);
    tc = config::TopicConfig::make(config_, {});
  }
  const config::TopicConfig& t = tc.value();
  storage::LogConfig c;
  c.segment_bytes = t.get_long("segment.bytes");
  c.segment_ms = t.get_long("segment.ms");
  c.retention_ms = t.get_long("retention.ms");
  c.retention_bytes = t.get_long("retention.bytes");
  c.max_message_bytes = static_cast<int32_t>(t.get_long("max.message.bytes"));
  c.index_interval_bytes = static_cast<int32_t>(t.get_long("index.interval.bytes"));
  c.segment_index_bytes = static_cast<int32_t>(t.get_long("segment.index.bytes"));
  c.file_delete_delay_ms = t.get_long("file.delete.delay.ms");
  c.message_timestamp_log_append = t.get("message.timestamp.type") == "LogAppendTime";
  return c;
}

Status Broker::start() {
  storage::LogManagerOptions lo;
  for (const auto& d : config_.log_dirs()) lo.log_dirs.emplace_back(d);
  lo.retention_check_interval_ms = config_.get_long("log.retention.check.interval.ms");
  if (config_.is_set("log.flush.interval.ms"))
    lo.flush_interval_ms = std::max<int64_t>(1, config_.get_long("log.flush.interval.ms"));
  auto logs = storage::LogManager::open(lo);
  if (!logs.ok()) return logs.error();
  logs_ = std::move(logs.value());
  if (logs_->recovered_after_crash())
    spdlog::warn("no clean-shutdown marker in log.dirs: logs are recovered (CRC scan) as they open");

  replicas_ = std::make_unique<replication::ReplicaManager>(*logs_, node_id_);

  auto ctl = controller::Controller::open(config_, *logs_);
  if (!ctl.ok()) return ctl.error();
  controller_ = std::move(ctl.value());
  // Creates the replicas of every existing topic now (the listener is called at once with the
  // current image), and of every later one as it is created.
  controller_->subscribe([this](const controller::MetadataImage& before,
                                const controller::MetadataImage& after) { on_metadata(before, after); });
  logs_->start();

  metrics_.set_partition_source([this] { return sample_partitions(); });

  NetworkOptions no;
  for (const auto& l : config_.listeners()) no.listeners.push_back({l.name, l.host, l.port});
  no.threads = config_.get_int("num.network.threads");
  no.max_request_bytes = config_.get_int("socket.request.max.bytes");
  no.connections_max_idle_ms = config_.get_long("connections.max.idle.ms");
  no.socket_send_buffer_bytes = config_.get_int("socket.send.buffer.bytes");
  no.socket_receive_buffer_bytes = config_.get_int("socket.receive.buffer.bytes");
  network_ = std::make_unique<Network>(no, *this);
  if (auto s = network_->start(); !s.ok()) return s;

  http_ = std::make_unique<HttpServer>(
      config_.metrics_host(), config_.metrics_port(),
      HttpServer::Routes{[this] { return metrics_.scrape(); }, [this] { return !stopped_.load(); }});
  if (auto s = http_->start(); !s.ok()) return s;

  spdlog::info("kbroker node {} serving Kafka on {} and metrics on {}:{}", node_id_,
               fmt::join(config_.get_list("listeners"), ","), config_.metrics_host(),
               http_->bound_port());
  return {};
}

void Broker::stop() {
  if (stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  // Waiting fetches answer now with what they have, so connections can drain.
  if (replicas_) replicas_->fetch_purgatory().complete_all();
  if (network_) network_->stop(std::chrono::seconds(5));
  if (http_) http_->stop();
  controller_.reset();
  if (replicas_) replicas_->fetch_purgatory().complete_all();
  if (logs_) logs_->shutdown();
  spdlog::info("shutdown complete");
}

int32_t Broker::min_insync_replicas_for(const std::map<std::string, std::string>& overrides) const {
  auto tc = config::TopicConfig::make(config_, overrides);
  return tc.ok() ? static_cast<int32_t>(tc->get_long("min.insync.replicas")) : config_.get_int("min.insync.replicas");
}

ErrorCode Broker::missing_partition_error(const TopicPartition& tp) const {
  auto img = image();
  const controller::TopicInfo* t = img->topic(tp.topic);
  bool exists = t && tp.partition >= 0 && tp.partition < static_cast<int32_t>(t->partitions.size());
  return exists ? ErrorCode::NOT_LEADER_OR_FOLLOWER : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
}

uint16_t Broker::kafka_port() const { return network_ ? network_->bound_port(0) : 0; }
uint16_t Broker::metrics_port() const { return http_ ? http_->bound_port() : 0; }

std::vector<controller::CreateTopicResult> Broker::auto_create_topics(
    const std::vector<std::string>& names) {
  std::vector<controller::CreateTopicSpec> specs;
  for (const auto& n : names) {
    controller::CreateTopicSpec s;
    s.name = n;
    specs.push_back(std::move(s));
  }
  auto results = controller_->create_topics(specs, false);
  for (const auto& r : results) {
    if (r.error == ErrorCode::NONE)
      spdlog::info("auto-created topic {} with {} partitions", r.name, r.num_partitions);
  }
  return results;
}

void Broker::on_metadata(const controller::MetadataImage& before,
                         const controller::MetadataImage& after) {
  // Topics that disappeared (or were re-created with a new id): drop their replicas and files.
  for (const controller::TopicInfo* old : before.topics()) {
    const controller::TopicInfo* now = after.topic(old->name);
    if (now && now->id == old->id) continue;
    for (const auto& p : old->partitions) {
      TopicPartition tp{old->name, p.partition};
      if (auto s = replicas_->remove(tp, true); !s.ok())
        spdlog::error("deleting the log of {} failed: {}", tp.to_string(), s.error().message);
    }
    // Its counters stay: a handler may still hold them, and counters only ever grow.
    spdlog::info("topic {} deleted: {} partition logs removed", old->name, old->partitions.size());
  }
  for (const controller::TopicInfo* t : after.topics()) {
    const controller::TopicInfo* prev = before.topic(t->name);
    bool configs_changed = prev && prev->id == t->id && prev->configs != t->configs;
    storage::LogConfig lc = log_config_for(t->configs);
    if (configs_changed) replicas_->update_config(t->name, lc);
    for (const auto& p : t->partitions) {
      if (p.leader != node_id_) continue;
      TopicPartition tp{t->name, p.partition};
      if (prev && prev->id == t->id) {
        auto existing = replicas_->get(tp);
        if (existing && existing->leader_epoch() == p.leader_epoch) continue;
      }
      auto r = replicas_->become_leader(tp, t->id, p.leader_epoch, p.replicas, lc);
      if (!r.ok())
        spdlog::error("cannot open the log of {}: {}", tp.to_string(), r.error().message);
    }
    int32_t min_isr = min_insync_replicas_for(t->configs);
    for (const auto& p : t->partitions)
      if (auto part = replicas_->get(TopicPartition{t->name, p.partition}))
        part->set_min_insync_replicas(min_isr);
  }
}

std::vector<PartitionSample> Broker::sample_partitions() {
  std::vector<PartitionSample> out;
  if (!replicas_) return out;
  for (const auto& p : replicas_->all()) {
    PartitionSample s;
    s.tp = p->tp();
    s.log_start_offset = p->log_start_offset().value();
    s.log_end_offset = p->log_end_offset().value();
    s.high_watermark = p->high_watermark().value();
    s.size_bytes = p->log().size_bytes();
    s.segments = p->log().segment_count();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace kb::server
