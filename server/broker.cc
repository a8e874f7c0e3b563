#include "server/broker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "controller/group/replica_group_log.h"
#include "server/coordinator_loop.h"
#include "server/http_server.h"
#include "server/network.h"
#include "storage/files.h"

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
  // A compact-only topic keeps every key's latest record however old: time and size
  // retention apply only with the delete policy.
  bool deletes = t.get("cleanup.policy").find("delete") != std::string::npos;
  c.retention_ms = deletes ? t.get_long("retention.ms") : -1;
  c.retention_bytes = deletes ? t.get_long("retention.bytes") : -1;
  c.max_message_bytes = static_cast<int32_t>(t.get_long("max.message.bytes"));
  c.index_interval_bytes = static_cast<int32_t>(t.get_long("index.interval.bytes"));
  c.segment_index_bytes = static_cast<int32_t>(t.get_long("segment.index.bytes"));
  c.file_delete_delay_ms = t.get_long("file.delete.delay.ms");
  c.message_timestamp_log_append = t.get("message.timestamp.type") == "LogAppendTime";
  c.message_timestamp_difference_max_ms = t.get_long("message.timestamp.difference.max.ms");
  const std::string codec = t.get("compression.type");
  static const char* kCodecs[] = {"uncompressed", "gzip", "snappy", "lz4", "zstd"};
  for (int i = 0; i < 5; ++i)
    if (codec == kCodecs[i]) c.compression = i;
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

  coordinator::GroupConfig gc;
  gc.min_session_timeout_ms = config_.get_int("group.min.session.timeout.ms");
  gc.max_session_timeout_ms = config_.get_int("group.max.session.timeout.ms");
  gc.initial_rebalance_delay_ms = config_.get_int("group.initial.rebalance.delay.ms");
  gc.max_size = config_.get_int("group.max.size");
  gc.offset_metadata_max_bytes = config_.get_int("offset.metadata.max.bytes");
  gc.offsets_retention_ms = config_.get_long("offsets.retention.minutes") * 60 * 1000;
  gc.offsets_retention_check_interval_ms = config_.get_long("offsets.retention.check.interval.ms");
  coordinator_loop_ = std::make_unique<CoordinatorLoop>();
  group_log_ = std::make_unique<coordinator::ReplicaGroupLog>(*replicas_, *coordinator_loop_);
  groups_ = std::make_unique<coordinator::GroupCoordinator>(gc, *coordinator_loop_, *group_log_);

  auto ctl = controller::Controller::open(config_, *logs_);
  if (!ctl.ok()) return ctl.error();
  controller_ = std::move(ctl.value());
  // Creates the replicas of every existing topic now (the listener is called at once with the
  // current image), and of every later one as it is created.
  controller_->subscribe([this](const controller::MetadataImage& before,
                                const controller::MetadataImage& after) { on_metadata(before, after); });
  logs_->start();

  metrics_.set_partition_source([this] { return sample_partitions(); });
  metrics_.set_group_source([this] { return sample_groups(); });

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
  // Waiting fetches answer now with what they have (acks=all produces with REQUEST_TIMED_OUT),
  // so connections can drain.
  if (replicas_) {
    replicas_->fetch_purgatory().complete_all();
    replicas_->produce_purgatory().complete_all();
  }
  // Waiting JoinGroup/SyncGroup requests answer NOT_COORDINATOR (clients look for the
  // coordinator again), so connections drain.
  if (groups_) groups_->stop();
  if (network_) network_->stop(std::chrono::seconds(5));
  if (http_) http_->stop();
  if (coordinator_loop_) coordinator_loop_->stop();
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
  std::vector<controller::CreateTopicResult> results;
  for (const auto& n : names) {
    if (n == coordinator::ReplicaGroupLog::kTopic) {
      // A client asking for the offsets topic gets it with its own settings, not the
      // defaults of an ordinary topic.
      controller::CreateTopicResult r;
      r.name = n;
      auto count = ensure_offsets_topic();
      r.error = count.code();
      if (count.ok()) r.num_partitions = count.value();
      else r.message = count.error().message;
      results.push_back(std::move(r));
      continue;
    }
    controller::CreateTopicSpec s;
    s.name = n;
    specs.push_back(std::move(s));
  }
  if (!specs.empty())
    for (auto& r : controller_->create_topics(specs, false)) results.push_back(std::move(r));
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
    int64_t now = storage::now_ms();
    for (const auto& p : t->partitions)
      if (auto part = replicas_->get(TopicPartition{t->name, p.partition})) {
        part->set_min_insync_replicas(min_isr);
        if (p.leader == node_id_ && part->isr() != p.isr) part->set_isr(p.isr, now);
      }
  }
  update_group_coordinator(before, after);
}

Result<int32_t> Broker::ensure_offsets_topic() {
  const char* topic = coordinator::ReplicaGroupLog::kTopic;
  if (const controller::TopicInfo* t = image()->topic(topic)) return static_cast<int32_t>(t->partitions.size());
  controller::CreateTopicSpec spec;
  spec.name = topic;
  spec.num_partitions = config_.get_int("offsets.topic.num.partitions");
  spec.replication_factor = static_cast<int16_t>(config_.get_int("offsets.topic.replication.factor"));
  spec.configs = {{"cleanup.policy", "compact"},
                  {"compression.type", "producer"},
                  {"segment.bytes", std::to_string(config_.get_int("offsets.topic.segment.bytes"))}};
  auto results = controller_->create_topics({spec}, false);
  const auto& r = results.front();
  if (r.error == ErrorCode::NONE || r.error == ErrorCode::TOPIC_ALREADY_EXISTS) {
    if (const controller::TopicInfo* t = image()->topic(topic)) {
      if (r.error == ErrorCode::NONE)
        spdlog::info("created {} with {} partitions, replication factor {}", topic, t->partitions.size(),
                     spec.replication_factor);
      return static_cast<int32_t>(t->partitions.size());
    }
  }
  std::string why = "cannot create " + std::string(topic) + ": " + r.message +
                    (r.error == ErrorCode::INVALID_REPLICATION_FACTOR
                         ? " (offsets.topic.replication.factor is " + std::to_string(spec.replication_factor) + ")"
                         : "");
  spdlog::warn("{}", why);
  return Result<int32_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE, why);
}

void Broker::update_group_coordinator(const controller::MetadataImage& before,
                                      const controller::MetadataImage& after) {
  const char* topic = coordinator::ReplicaGroupLog::kTopic;
  const controller::TopicInfo* was = before.topic(topic);
  const controller::TopicInfo* now = after.topic(topic);
  auto led_here = [&](const controller::TopicInfo* t, int32_t p) -> const controller::PartitionInfo* {
    if (!t || p >= static_cast<int32_t>(t->partitions.size())) return nullptr;
    const auto& info = t->partitions[static_cast<size_t>(p)];
    return info.leader == node_id_ ? &info : nullptr;
  };
  int32_t before_count = was ? static_cast<int32_t>(was->partitions.size()) : 0;
  int32_t after_count = now ? static_cast<int32_t>(now->partitions.size()) : 0;
  bool same_topic = was && now && was->id == now->id;
  for (int32_t p = 0; p < std::max(before_count, after_count); ++p) {
    const auto* old_info = led_here(was, p);
    const auto* new_info = led_here(now, p);
    bool unchanged = same_topic && old_info && new_info && old_info->leader_epoch == new_info->leader_epoch;
    if (unchanged) continue;
    if (old_info) groups_->resigned(p);
    if (new_info) groups_->became_leader(p, after_count);
  }
}

std::vector<GroupSample> Broker::sample_groups() {
  std::vector<GroupSample> out;
  if (!groups_) return out;
  for (auto& g : groups_->snapshot()) {
    GroupSample s;
    s.group = g.group_id;
    s.state = std::string(coordinator::state_name(g.state));
    s.members = g.members;
    s.rebalances = g.rebalances;
    for (const auto& [tp, offset] : g.committed) {
      auto p = replicas_->get(tp);
      // The end a consumer can reach is the high watermark (what kafka-consumer-groups.sh
      // shows as LOG-END-OFFSET); a partition led elsewhere has no lag figure here.
      s.offsets.push_back({tp, offset, p ? p->high_watermark().value() : -1});
    }
    out.push_back(std::move(s));
  }
  return out;
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
