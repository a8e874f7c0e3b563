#include "server/broker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "controller/broker_lifecycle.h"
#include "controller/meta_properties.h"
#include "controller/producer_id_manager.h"
#include "controller/quorum_metadata_log.h"
#include "coordinator/group/replica_group_log.h"
#include "coordinator/txn/txn_marker_sender.h"
#include "protocol/messages/allocate_producer_ids_request.h"
#include "protocol/messages/allocate_producer_ids_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "replication/raft/quorum.h"
#include "replication/replica_fetcher.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"
#include "runtime/peer_client.h"
#include "server/http_server.h"
#include "server/network.h"
#include "server/schema_registry_service.h"

namespace kb::server {

using controller::ProducerIdManager;
using raft::Quorum;
using runtime::LoopThread;
using runtime::PeerAddress;
using runtime::PeerClient;

namespace {

// The follower fetcher's settings from the broker's replica.fetch.* properties.
replication::ReplicaFetcherOptions replica_fetcher_options(const config::BrokerConfig& config) {
  replication::ReplicaFetcherOptions o;
  o.node_id = config.node_id();
  o.max_wait_ms = config.get_int("replica.fetch.wait.max.ms");
  o.min_bytes = config.get_int("replica.fetch.min.bytes");
  o.max_bytes = config.get_int("replica.fetch.response.max.bytes");
  o.partition_max_bytes = config.get_int("replica.fetch.max.bytes");
  o.backoff_ms = config.get_int("replica.fetch.backoff.ms");
  o.fetchers_per_leader = config.get_int("num.replica.fetchers");
  return o;
}

}  // namespace

Broker::Broker(config::BrokerConfig config)
    : config_(std::move(config)),
      node_id_(config_.node_id()),
      effective_(std::make_shared<const config::BrokerConfig>(config_)) {}

std::shared_ptr<const config::BrokerConfig> Broker::effective_config() const {
  std::lock_guard lk(effective_mu_);
  return effective_;
}

bool Broker::apply_dynamic_configs(const controller::MetadataImage& after) {
  static const std::map<std::string, std::string> kNone;
  const auto* cluster_default = after.broker_configs("");
  const auto* mine = after.broker_configs(std::to_string(node_id_));
  auto current = effective_config();
  auto same = [](const auto& layer, const std::map<std::string, std::string>* stored) {
    if (!stored) return layer.empty();
    return std::equal(layer.begin(), layer.end(), stored->begin(), stored->end());
  };
  if (same(current->dynamic_default(), cluster_default) && same(current->dynamic_broker(), mine)) return false;
  std::vector<std::string> skipped;
  auto next = config_.with_dynamic(cluster_default ? *cluster_default : kNone, mine ? *mine : kNone, &skipped);
  for (const auto& s : skipped) spdlog::warn("ignoring dynamic broker config {}", s);
  if (!next.ok()) {
    // The controller checks every change, so this is a combination no single change made
    // (e.g. a cluster default and a per-broker value written by different brokers' rules).
    spdlog::error("dynamic broker configs not applied: {}", next.error().message);
    return false;
  }
  std::vector<std::string> changes;
  for (const auto& [k, v] : next->dynamic_default()) changes.push_back(k + "=" + v + " (cluster default)");
  for (const auto& [k, v] : next->dynamic_broker()) changes.push_back(k + "=" + v + " (this broker)");
  spdlog::info("dynamic broker configs now in effect: {}",
               changes.empty() ? std::string("none") : fmt::format("{}", fmt::join(changes, ", ")));
  {
    std::lock_guard lk(effective_mu_);
    effective_ = std::make_shared<const config::BrokerConfig>(std::move(next.value()));
  }
  return true;
}

Broker::~Broker() { stop(); }

storage::LogConfig Broker::log_config_for(const std::map<std::string, std::string>& overrides) const {
  auto effective = effective_config();
  auto tc = config::TopicConfig::make(*effective, overrides);
  if (!tc.ok()) {
    // Stored overrides were validated when written; fall back to defaults rather than refuse
    // to host the partition, and say so.
    spdlog::warn("ignoring invalid topic config: {}", tc.error().message);
    tc = config::TopicConfig::make(*effective, {});
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
  c.compact = t.get("cleanup.policy").find("compact") != std::string::npos;
  c.delete_retention_ms = t.get_long("delete.retention.ms");
  c.min_cleanable_dirty_ratio = std::stod(t.get("min.cleanable.dirty.ratio"));
  c.min_compaction_lag_ms = t.get_long("min.compaction.lag.ms");
  c.max_compaction_lag_ms = t.get_long("max.compaction.lag.ms");
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
  lo.cleaner_enable = config_.get_bool("log.cleaner.enable");
  lo.cleaner.threads = config_.get_int("log.cleaner.threads");
  lo.cleaner.backoff_ms = config_.get_long("log.cleaner.backoff.ms");
  lo.cleaner.dedupe_buffer_size = config_.get_long("log.cleaner.dedupe.buffer.size");
  auto logs = storage::LogManager::open(lo);
  if (!logs.ok()) return logs.error();
  logs_ = std::move(logs.value());
  if (logs_->recovered_after_crash())
    spdlog::warn("no clean-shutdown marker in log.dirs: logs are recovered (CRC scan) as they open");

  replicas_ = std::make_unique<replication::ReplicaManager>(*logs_, node_id_);
  // Once stopping, the image may go: a partition not hosted any more is simply led elsewhere.
  replicas_->set_missing_partition_error([this](const TopicPartition& tp) {
    return stopped_.load() ? ErrorCode::NOT_LEADER_OR_FOLLOWER : missing_partition_error(tp);
  });

  coordinator::GroupConfig gc;
  gc.min_session_timeout_ms = config_.get_int("group.min.session.timeout.ms");
  gc.max_session_timeout_ms = config_.get_int("group.max.session.timeout.ms");
  gc.initial_rebalance_delay_ms = config_.get_int("group.initial.rebalance.delay.ms");
  gc.max_size = config_.get_int("group.max.size");
  gc.offset_metadata_max_bytes = config_.get_int("offset.metadata.max.bytes");
  gc.offsets_retention_ms = config_.get_long("offsets.retention.minutes") * 60 * 1000;
  gc.offsets_retention_check_interval_ms = config_.get_long("offsets.retention.check.interval.ms");
  coordinator_loop_ = std::make_unique<LoopThread>("kb-coordinator");
  group_log_ = std::make_unique<coordinator::ReplicaGroupLog>(
      *replicas_, *coordinator_loop_, config_.get_int("offsets.commit.timeout.ms"),
      coordinator::ReplicaGroupLog::kTopic, config_.get_int("offsets.topic.compression.codec"));
  groups_ = std::make_unique<coordinator::GroupCoordinator>(gc, *coordinator_loop_, *group_log_);

  coordinator::TxnConfig tc;
  tc.max_timeout_ms = config_.get_int("transaction.max.timeout.ms");
  tc.abort_timed_out_interval_ms = config_.get_long("transaction.abort.timed.out.transaction.cleanup.interval.ms");
  tc.id_expiration_ms = config_.get_long("transactional.id.expiration.ms");
  tc.remove_expired_interval_ms = config_.get_long("transaction.remove.expired.transaction.cleanup.interval.ms");
  marker_client_ = std::make_unique<PeerClient>("kbroker-" + std::to_string(node_id_) + "-txn-markers");
  txn_markers_ = std::make_unique<coordinator::BrokerTxnMarkerSender>(
      [this] { return image(); },
      [this](const controller::MetadataImage& img, int32_t node) { return broker_address(img, node); },
      *marker_client_);
  // Kafka appends to __transaction_state with request.timeout.ms (30 s) for the ISR.
  txn_log_ = std::make_unique<coordinator::ReplicaGroupLog>(*replicas_, *coordinator_loop_, 30000,
                                                           kTransactionStateTopic);
  txns_ = std::make_unique<coordinator::TransactionCoordinator>(
      tc, *coordinator_loop_, *txn_log_, *txn_markers_,
      [this](std::function<void(Result<int64_t>)> done) { producer_ids_->next_id(std::move(done)); });

  if (config_.quorum_voters().empty()) {
    auto ctl = controller::Controller::open(config_, *logs_);
    if (!ctl.ok()) return ctl.error();
    controller_ = std::move(ctl.value());
  } else if (auto s = open_replicated_controller(); !s.ok()) {
    return s;
  }
  // Creates the replicas of every existing topic now (the listener is called at once with the
  // current image), and of every later one as it is created.
  controller_->subscribe([this](const controller::MetadataImage& before,
                                const controller::MetadataImage& after) { on_metadata(before, after); });
  logs_->start();
  producer_ids_ = std::make_unique<ProducerIdManager>(
      [this](ProducerIdManager::BlockCallback done) { allocate_producer_id_block(std::move(done)); });
  schedule_producer_expiration();

  metrics_.set_partition_source([this] { return sample_partitions(); });
  metrics_.set_topic_source([this] {
    std::vector<TopicSample> out;
    for (const auto& [name, s] : replicas_->topic_stats())
      out.push_back({name, s->bytes_in.load(), s->records_in.load(), s->bytes_out.load(), s->records_out.load(),
                     s->failed_produce.load()});
    return out;
  });
  metrics_.set_transaction_source([this] { return sample_transactions(); });
  metrics_.set_group_source([this] { return sample_groups(); });
  metrics_.set_coordinator_source([this] {
    return std::map<std::string, uint64_t>{{coordinator::ReplicaGroupLog::kTopic, groups_->skipped_records()},
                                           {kTransactionStateTopic, txns_->skipped_records()}};
  });
  if (quorum_) metrics_.set_cluster_source([this] { return sample_cluster(); });

  NetworkOptions no;
  for (const auto& l : config_.listeners()) no.listeners.push_back({l.name, l.host, l.port});
  no.threads = config_.get_int("num.network.threads");
  no.max_request_bytes = config_.get_int("socket.request.max.bytes");
  no.connections_max_idle_ms = config_.get_long("connections.max.idle.ms");
  no.socket_send_buffer_bytes = config_.get_int("socket.send.buffer.bytes");
  no.socket_receive_buffer_bytes = config_.get_int("socket.receive.buffer.bytes");
  network_ = std::make_unique<Network>(no, *this);
  if (auto s = network_->start(); !s.ok()) return s;

  if (config_.get_bool("schema.registry.enable")) {
    SchemaRegistryService::Hooks h;
    h.controller = controller_.get();
    h.address = [this](const controller::MetadataImage& img, int32_t node) { return broker_address(img, node); };
    h.create_topic = [this](const controller::CreateTopicSpec& spec) {
      return ensure_internal_topic(spec, "schema.registry.topic.replication.factor");
    };
    h.lone_broker = !quorum_;
    schema_registry_ = std::make_unique<SchemaRegistryService>(config_, std::move(h));
    metrics_.add_collector(schema_registry_->collector());
  }
  http_ = std::make_unique<HttpServer>(
      config_.metrics_host(), config_.metrics_port(),
      HttpServer::Routes{[this] { return metrics_.scrape(); }, [this] { return !stopped_.load(); }});
  if (schema_registry_) http_->add_listener(schema_registry_->listener());
  if (auto s = http_->start(); !s.ok()) return s;
  if (schema_registry_) schema_registry_->start();

  if (quorum_) {
    controller::LifecycleOptions lo;
    lo.node_id = node_id_;
    lo.cluster_id = controller_->image()->cluster_id();
    lo.incarnation_id = incarnation_;
    for (const auto& l : config_.advertised_listeners()) {
      lo.endpoints.push_back({l.name, l.host, l.port});
      lo.security_protocols.push_back(controller::security_protocol_id(l.security_protocol));
    }
    lo.rack = config_.raw("broker.rack");
    if (lo.rack && lo.rack->empty()) lo.rack.reset();
    lo.heartbeat_interval_ms = config_.get_int("broker.heartbeat.interval.ms");
    lo.replica_lag_time_max_ms = config_.get_long("replica.lag.time.max.ms");
    lo.high_watermark_checkpoint_interval_ms = config_.get_long("replica.high.watermark.checkpoint.interval.ms");
    lifecycle_ = std::make_unique<controller::BrokerLifecycle>(lo, *peers_, *quorum_, *controller_, *replicas_);
  }

  spdlog::info("kbroker node {} serving Kafka on {} and metrics on {}:{}", node_id_,
               fmt::join(config_.get_list("listeners"), ","), config_.metrics_host(),
               http_->bound_port());
  return {};
}

void Broker::stop() {
  if (stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  if (lifecycle_) {
    // Controlled shutdown: the controller moves this broker's leaderships to other in-sync
    // replicas first, so clients switch leaders without losing acknowledged records.
    int64_t timeout = config_.get_long("broker.session.timeout.ms") * 2;
    if (lifecycle_->controlled_shutdown(timeout))
      spdlog::info("controlled shutdown: leaderships moved away");
    else
      spdlog::warn("controlled shutdown not confirmed by the controller within {} ms; stopping anyway", timeout);
    lifecycle_->stop();
  }
  // Waiting fetches answer now with what they have (acks=all produces with REQUEST_TIMED_OUT),
  // so connections can drain.
  if (replicas_) replicas_->complete_delayed_operations();
  // Waiting JoinGroup/SyncGroup requests answer NOT_COORDINATOR (clients look for the
  // coordinator again), so connections drain.
  if (groups_) groups_->stop();
  if (txns_) txns_->stop();
  if (schema_registry_) schema_registry_->stop();
  if (network_) network_->stop(std::chrono::seconds(5));
  if (http_) http_->stop();
  if (coordinator_loop_) coordinator_loop_->stop(std::chrono::seconds(1));
  // Nothing starts a delayed operation any more (no requests, no coordinator writes): answer
  // what still waits while the image it may consult is there.
  if (replicas_) replicas_->complete_delayed_operations();
  lifecycle_.reset();
  if (controller_requests_) controller_requests_->stop(std::chrono::seconds(5));
  if (quorum_) quorum_->stop();
  if (fetchers_) fetchers_->stop();
  quorum_.reset();
  controller_.reset();
  if (quorum_peers_) quorum_peers_->stop();
  if (peers_) peers_->stop();
  if (marker_client_) marker_client_->stop();
  if (replicas_) {
    // Clean shutdown: no append runs any more, so each snapshot is the state at its log end.
    replicas_->write_producer_snapshots();
    // Clean shutdown: the next start knows exactly what was committed.
    if (quorum_peers_)
      if (auto s = replicas_->checkpoint_high_watermarks(); !s.ok())
        spdlog::error("high watermark checkpoint failed: {}", s.error().message);
  }
  if (logs_) logs_->shutdown();
  spdlog::info("shutdown complete");
}

namespace {

// A cluster id all voters of one quorum derive alike on their first start (Kafka has
// `kafka-storage format --cluster-id` for this): 128 bits of FNV-1a over the voters list.
std::string quorum_cluster_id(const std::vector<config::QuorumVoter>& voters) {
  std::string text = "kbroker-cluster:";
  for (const auto& v : voters) text += std::to_string(v.id) + "@" + v.host + ":" + std::to_string(v.port) + ",";
  Uuid id;
  for (int half = 0; half < 2; ++half) {
    uint64_t h = 14695981039346656037ull ^ static_cast<uint64_t>(half);
    for (unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ull;
    }
    for (int i = 0; i < 8; ++i) id.bytes[half * 8 + i] = static_cast<uint8_t>(h >> (56 - 8 * i));
  }
  return id.to_string();
}

}  // namespace

Status Broker::open_replicated_controller() {
  auto cluster_id = controller::ensure_meta_properties(config_.log_dirs(), node_id_,
                                                       quorum_cluster_id(config_.quorum_voters()));
  if (!cluster_id.ok()) return cluster_id.error();
  auto log = logs_->get_or_create(TopicPartition{Quorum::kTopic, 0}, controller::LocalMetadataLog::log_config());
  if (!log.ok()) return log.error();
  peers_ = std::make_unique<PeerClient>("kbroker-" + std::to_string(node_id_));
  quorum_peers_ = std::make_unique<PeerClient>("kbroker-quorum-" + std::to_string(node_id_));
  controller_requests_ = std::make_unique<LoopThread>("kb-ctl-requests");
  const int64_t request_timeout = config_.get_int("controller.quorum.request.timeout.ms");
  auto qlog = std::make_unique<controller::QuorumMetadataLog>(request_timeout * 2);
  controller::QuorumMetadataLog* qlog_ptr = qlog.get();
  auto ctl = controller::Controller::open_replicated(config_, std::move(qlog), cluster_id.value());
  if (!ctl.ok()) return ctl.error();
  controller_ = std::move(ctl.value());

  raft::QuorumOptions qo;
  qo.node_id = node_id_;
  for (const auto& v : config_.quorum_voters()) qo.voters.push_back({v.id, v.host, v.port});
  qo.cluster_id = cluster_id.value();
  qo.raft.election_timeout_ms = config_.get_int("controller.quorum.election.timeout.ms");
  qo.raft.fetch_timeout_ms = config_.get_int("controller.quorum.fetch.timeout.ms");
  qo.raft.fetch_resend_ms = request_timeout;
  qo.request_timeout_ms = request_timeout;
  qo.fetch_max_wait_ms = std::min<int64_t>(500, qo.raft.fetch_timeout_ms / 2);
  qo.snapshot_max_bytes = config_.get_long("metadata.log.max.record.bytes.between.snapshots");
  qo.snapshot_interval_ms = config_.get_long("metadata.log.max.snapshot.interval.ms");
  controller::Controller* ctl_ptr = controller_.get();
  auto decode = [](const std::string& batch) {
    return controller::decode_metadata_batch(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(batch.data()), batch.size()));
  };
  Quorum::Callbacks callbacks;
  callbacks.on_commit = [ctl_ptr, decode](const std::string& batch, int64_t) {
    auto decoded = decode(batch);
    if (!decoded.ok()) {
      spdlog::error("undecodable committed metadata batch: {}", decoded.error().message);
      return;
    }
    ctl_ptr->apply_committed(decoded.value());
  };
  callbacks.on_active = [ctl_ptr](bool active) { ctl_ptr->set_active(active); };
  callbacks.on_load = [ctl_ptr, decode](const std::vector<std::string>& batches, int64_t last) {
    std::vector<controller::MetadataBatch> decoded;
    for (const auto& b : batches) {
      auto d = decode(b);
      if (!d.ok()) {
        spdlog::error("undecodable metadata snapshot batch: {}", d.error().message);
        return;
      }
      decoded.push_back(std::move(d.value()));
    }
    ctl_ptr->load_snapshot(decoded, last);
  };
  callbacks.make_snapshot = [ctl_ptr](int64_t last) { return ctl_ptr->snapshot_batches(last); };
  auto q = Quorum::open(qo, log.value(), *quorum_peers_, std::move(callbacks));
  if (!q.ok()) return q.error();
  quorum_ = std::move(q.value());
  qlog_ptr->attach(quorum_.get());
  return {};
}

int32_t Broker::active_controller_id() const { return quorum_ ? quorum_->leader() : node_id_; }

void Broker::run_controller_request(std::function<void()> work) { controller_requests_->post(std::move(work)); }

void Broker::create_topics_async(const std::vector<controller::CreateTopicSpec>& specs) {
  run_controller_request([this, specs] {
    if (!controller_->active()) return forward_create_topics(specs);
    for (const auto& r : controller_->create_topics(specs, false))
      if (r.error != ErrorCode::NONE && r.error != ErrorCode::TOPIC_ALREADY_EXISTS)
        spdlog::warn("cannot create topic {}: {}", r.name, r.message);
  });
}

void Broker::forward_create_topics(const std::vector<controller::CreateTopicSpec>& specs) {
  int32_t leader = quorum_ ? quorum_->leader() : -1;
  auto addr = leader >= 0 ? quorum_->voter_address(leader) : std::nullopt;
  if (!addr) return;
  msg::CreateTopicsRequest req;
  req.timeout_ms = 30000;
  for (const auto& s : specs) {
    auto& t = req.topics.emplace_back();
    t.name = s.name;
    t.num_partitions = s.num_partitions;
    t.replication_factor = s.replication_factor;
    for (const auto& [k, v] : s.configs) {
      auto& c = t.configs.emplace_back();
      c.name = k;
      c.value = v;
    }
  }
  peers_->call<msg::CreateTopicsRequest, msg::CreateTopicsResponse>(
      leader, PeerAddress{addr->first, addr->second}, req, 5, 30000, [](Result<msg::CreateTopicsResponse> r) {
        if (!r.ok()) spdlog::warn("forwarding topic creation to the controller failed: {}", r.error().message);
      });
}

void Broker::allocate_producer_id_block(std::function<void(Result<controller::ProducerIdBlock>)> done) {
  // The controller fsyncs its log (or waits for the quorum) before it hands out a block.
  if (!quorum_) {
    coordinator_loop_->post([this, done = std::move(done)] { done(controller_->allocate_producer_ids(node_id_)); });
    return;
  }
  run_controller_request([this, done = std::move(done)] {
    auto img = image();
    const controller::BrokerInfo* me = img->broker(node_id_);
    const int64_t epoch = me && me->incarnation_id == incarnation_ ? me->epoch : -1;
    if (controller_->active()) return done(controller_->allocate_producer_ids(node_id_, epoch));
    const int32_t leader = quorum_->leader();
    auto addr = leader >= 0 ? quorum_->voter_address(leader) : std::nullopt;
    if (!addr) return done(Error{ErrorCode::NOT_CONTROLLER, "no active controller known"});
    msg::AllocateProducerIdsRequest req;
    req.broker_id = node_id_;
    req.broker_epoch = epoch;
    peers_->call<msg::AllocateProducerIdsRequest, msg::AllocateProducerIdsResponse>(
        leader, PeerAddress{addr->first, addr->second}, req, 0, config_.get_int("controller.quorum.request.timeout.ms"),
        [done](Result<msg::AllocateProducerIdsResponse> r) {
          if (!r.ok()) return done(r.error());
          if (r->error_code != 0)
            return done(Error{static_cast<ErrorCode>(r->error_code), "AllocateProducerIds refused by the controller"});
          done(controller::ProducerIdBlock{-1, r->producer_id_start, r->producer_id_len});
        });
  });
}

void Broker::schedule_producer_expiration() {
  producer_expiration_timer_ =
      coordinator_loop_->after_ms(config_.get_int("producer.id.expiration.check.interval.ms"), [this] {
        size_t n = replicas_->remove_expired_producers(runtime::now_ms(), config_.get_int("producer.id.expiration.ms"));
        if (n > 0) spdlog::info("{} idle producer ids expired", n);
        schedule_producer_expiration();
      });
}

int32_t Broker::min_insync_replicas_for(const std::map<std::string, std::string>& overrides) const {
  auto effective = effective_config();
  auto tc = config::TopicConfig::make(*effective, overrides);
  return tc.ok() ? static_cast<int32_t>(tc->get_long("min.insync.replicas")) : effective->get_int("min.insync.replicas");
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
  if (!specs.empty() && quorum_) {
    // In a cluster creation waits for the quorum: it runs off this (network) thread, on the
    // active controller or forwarded to it, and the client retries (LEADER_NOT_AVAILABLE)
    // until the topic appears in this broker's image.
    create_topics_async(specs);
    for (const auto& s : specs) {
      controller::CreateTopicResult r;
      r.name = s.name;
      r.message = "forwarded to the active controller";
      results.push_back(std::move(r));
    }
    return results;
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
  // First, so every topic below gets log settings with the new broker-wide defaults.
  const bool broker_configs_changed = apply_dynamic_configs(after);
  if (broker_configs_changed) {
    auto eff = effective_config();
    logs_->reconfigure_cleaner(eff->get_int("log.cleaner.threads"), eff->get_long("log.cleaner.backoff.ms"));
  }
  if (quorum_ && !caught_up_) {
    // A cluster broker replays the metadata log from its start: until the controller has
    // unfenced this incarnation (it has caught up with its own registration, and what an
    // earlier incarnation led has moved away), the image may be stale, so no replica takes a
    // role from it. Then every role is taken at once, as from an empty image.
    const controller::BrokerInfo* me = after.broker(node_id_);
    if (!me || me->fenced || me->incarnation_id != incarnation_) return;
    caught_up_ = true;
    spdlog::info("broker {} caught up with the metadata log at offset {}: taking its replicas' roles", node_id_,
                 after.offset());
    // Stray logs: partitions on disk that the metadata no longer gives this broker (their
    // topic was deleted, or the replica moved, while it was away; a snapshot does not even
    // name the deleted topics). Kafka deletes them at start-up the same way.
    for (const TopicPartition& tp : logs_->existing_partitions()) {
      if (tp.topic == Quorum::kTopic) continue;
      const controller::PartitionInfo* p = after.partition(tp.topic, tp.partition);
      if (p && std::find(p->replicas.begin(), p->replicas.end(), node_id_) != p->replicas.end()) continue;
      if (auto s = replicas_->remove(tp, true); !s.ok())
        spdlog::error("deleting the stray log of {} failed: {}", tp.to_string(), s.error().message);
      else
        spdlog::info("{}: not a replica here any more; its stray log is deleted", tp.to_string());
    }
    controller::MetadataImage empty;
    empty.set_cluster(after.cluster_id(), after.controller_id());
    return on_metadata(empty, after);
  }
  // Topics that disappeared (or were re-created with a new id): drop their replicas and files.
  for (const controller::TopicInfo* old : before.topics()) {
    const controller::TopicInfo* now = after.topic(old->name);
    if (now && now->id == old->id) continue;
    for (const auto& p : old->partitions) {
      TopicPartition tp{old->name, p.partition};
      if (fetchers_) fetchers_->remove(tp);
      if (auto s = replicas_->remove(tp, true); !s.ok())
        spdlog::error("deleting the log of {} failed: {}", tp.to_string(), s.error().message);
    }
    // Its kbroker_topic_* series went with its last replica (ReplicaManager::remove).
    spdlog::info("topic {} deleted: {} partition logs removed", old->name, old->partitions.size());
  }
  // Where this broker fetches a partition it follows: the leader's inter-broker listener
  // (inter.broker.listener.name), else its first advertised one. No leader, or a leader that
  // is unknown or fenced: no fetching until the metadata names a live one.
  auto leader_address = [&](int32_t leader) { return broker_address(after, leader); };
  const int64_t now = runtime::now_ms();
  const int64_t lag_max_ms = config_.get_long("replica.lag.time.max.ms");
  for (const controller::TopicInfo* t : after.topics()) {
    const controller::TopicInfo* prev = before.topic(t->name);
    // A topic's log settings change with its overrides, and with the broker-wide defaults
    // (dynamic broker configs) that its missing overrides fall back to.
    bool configs_changed = prev && prev->id == t->id && (broker_configs_changed || prev->configs != t->configs);
    storage::LogConfig lc = log_config_for(t->configs);
    if (configs_changed) replicas_->update_config(t->name, lc);
    const int32_t min_isr = min_insync_replicas_for(t->configs);
    for (const auto& p : t->partitions) {
      TopicPartition tp{t->name, p.partition};
      auto existing = replicas_->get(tp);
      if (std::find(p.replicas.begin(), p.replicas.end(), node_id_) == p.replicas.end()) {
        // Moved off this broker (a reassignment): no more fetching, and the replica goes
        // with its files.
        if (existing) {
          if (fetchers_) fetchers_->remove(tp);
          // A leader moved off here stops leading first, so that acks=all produces waiting
          // for its high watermark answer NOT_LEADER_OR_FOLLOWER now (the producer retries at
          // the new leader) rather than at their timeout.
          if (existing->is_leader())
            (void)replicas_->become_follower(
                tp, t->id, replication::PartitionState{p.leader, p.leader_epoch, p.partition_epoch, p.replicas, p.isr},
                lc);
          if (auto s = replicas_->remove(tp, true); !s.ok())
            spdlog::error("deleting the log of {} failed: {}", tp.to_string(), s.error().message);
          else
            spdlog::info("{}: no longer a replica here; its log is deleted", tp.to_string());
        }
        continue;
      }
      replication::PartitionState state{p.leader, p.leader_epoch, p.partition_epoch, p.replicas, p.isr};
      std::shared_ptr<replication::Partition> part;
      if (p.leader == node_id_) {
        if (existing && existing->is_leader() && existing->leader_epoch() == p.leader_epoch) {
          // ISR, replicas, partition epoch. A smaller ISR may move the high watermark: the
          // acks=all produces and fetches waiting for it go on.
          replicas_->update_state(*existing, state, now);
          part = existing;
        } else {
          if (fetchers_) fetchers_->remove(tp);
          auto r = replicas_->become_leader(tp, t->id, state, lc, now);
          if (!r.ok()) {
            spdlog::error("cannot open the log of {}: {}", tp.to_string(), r.error().message);
            continue;
          }
          part = r.value();
        }
      } else {
        if (existing && !existing->is_leader() && existing->leader() == p.leader &&
            existing->leader_epoch() == p.leader_epoch) {
          existing->update_state(state, now);
          part = existing;
        } else {
          auto r = replicas_->become_follower(tp, t->id, state, lc);
          if (!r.ok()) {
            spdlog::error("cannot open the log of {}: {}", tp.to_string(), r.error().message);
            continue;
          }
          part = r.value();
        }
        // Every image: a leader's address or fencing may change without a new epoch.
        if (auto address = leader_address(p.leader)) {
          if (!fetchers_)
            fetchers_ = std::make_unique<replication::ReplicaFetcherManager>(
                replica_fetcher_options(config_), *replicas_,
                replication::peer_fetch_transport("kbroker-" + std::to_string(node_id_) + "-replica-fetcher"));
          fetchers_->add_or_update(tp, t->id, p.leader, *address, p.leader_epoch);
        } else if (fetchers_) {
          fetchers_->remove(tp);
        }
      }
      part->set_min_insync_replicas(min_isr);
      part->set_replica_lag_time_max_ms(lag_max_ms);
    }
  }
  update_coordinators(before, after);
  count_isr_changes(before, after);
}

std::optional<PeerAddress> Broker::broker_address(const controller::MetadataImage& image, int32_t node) const {
  const controller::BrokerInfo* b = node >= 0 ? image.broker(node) : nullptr;
  if (!b || b->fenced || b->endpoints.empty()) return std::nullopt;
  const controller::Endpoint* e = &b->endpoints.front();
  const std::optional<std::string> listener = config_.raw("inter.broker.listener.name");
  if (listener && !listener->empty())
    for (const auto& candidate : b->endpoints)
      if (candidate.listener == *listener) e = &candidate;
  return PeerAddress{e->host, e->port};
}

Result<int32_t> Broker::ensure_offsets_topic() {
  controller::CreateTopicSpec spec;
  spec.name = coordinator::ReplicaGroupLog::kTopic;
  spec.num_partitions = config_.get_int("offsets.topic.num.partitions");
  spec.replication_factor = static_cast<int16_t>(config_.get_int("offsets.topic.replication.factor"));
  spec.configs = {{"cleanup.policy", "compact"},
                  {"compression.type", "producer"},
                  {"segment.bytes", std::to_string(config_.get_int("offsets.topic.segment.bytes"))}};
  return ensure_internal_topic(spec, "offsets.topic.replication.factor");
}

Result<int32_t> Broker::ensure_transaction_state_topic() {
  controller::CreateTopicSpec spec;
  spec.name = kTransactionStateTopic;
  spec.num_partitions = config_.get_int("transaction.state.log.num.partitions");
  spec.replication_factor = static_cast<int16_t>(config_.get_int("transaction.state.log.replication.factor"));
  // Kafka's default min ISR of 2 would refuse every write on a one-broker setup whose
  // replication factor is 1: the topic gets at most its replication factor.
  int min_isr = std::min<int>(config_.get_int("transaction.state.log.min.isr"), spec.replication_factor);
  spec.configs = {{"cleanup.policy", "compact"},
                  {"compression.type", "uncompressed"},
                  {"min.insync.replicas", std::to_string(min_isr)},
                  {"unclean.leader.election.enable", "false"},
                  {"segment.bytes", std::to_string(config_.get_int("transaction.state.log.segment.bytes"))}};
  return ensure_internal_topic(spec, "transaction.state.log.replication.factor");
}

Result<int32_t> Broker::ensure_internal_topic(const controller::CreateTopicSpec& spec, const char* replication_property) {
  const std::string& topic = spec.name;
  if (const controller::TopicInfo* t = image()->topic(topic)) return static_cast<int32_t>(t->partitions.size());
  if (quorum_) {
    create_topics_async({spec});
    return Result<int32_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE, topic + " is being created by the active controller");
  }
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
  std::string why = "cannot create " + topic + ": " + r.message +
                    (r.error == ErrorCode::INVALID_REPLICATION_FACTOR
                         ? " (" + std::string(replication_property) + " is " + std::to_string(spec.replication_factor) + ")"
                         : "");
  spdlog::warn("{}", why);
  return Result<int32_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE, why);
}

void Broker::update_coordinators(const controller::MetadataImage& before, const controller::MetadataImage& after) {
  // Calls resign(p) / lead(p, partitions, leader epoch) for each partition of `topic` whose
  // leadership here changed (a new leader epoch is a new term: resign, then lead again).
  auto changes = [&](const char* topic, const std::function<void(int32_t)>& resign,
                     const std::function<void(int32_t, int32_t, int32_t)>& lead) {
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
      if (old_info) resign(p);
      if (new_info) lead(p, after_count, new_info->leader_epoch);
    }
  };
  changes(
      coordinator::ReplicaGroupLog::kTopic, [&](int32_t p) { groups_->resigned(p); },
      [&](int32_t p, int32_t count, int32_t) { groups_->became_leader(p, count); });
  changes(
      kTransactionStateTopic, [&](int32_t p) { txns_->resigned(p); },
      [&](int32_t p, int32_t count, int32_t epoch) { txns_->became_leader(p, count, epoch); });
}

void Broker::count_isr_changes(const controller::MetadataImage& before, const controller::MetadataImage& after) {
  for (const controller::TopicInfo* t : after.topics()) {
    const controller::TopicInfo* prev = before.topic(t->name);
    if (!prev || prev->id != t->id) continue;
    for (size_t p = 0; p < t->partitions.size() && p < prev->partitions.size(); ++p) {
      const auto& now = t->partitions[p];
      const auto& was = prev->partitions[p];
      if (now.leader != node_id_ || was.leader != node_id_ || now.isr == was.isr) continue;
      if (now.isr.size() < was.isr.size()) ++isr_shrinks_;
      else if (now.isr.size() > was.isr.size()) ++isr_expands_;
    }
  }
}

ClusterSample Broker::sample_cluster() {
  ClusterSample s;
  if (!quorum_) return s;
  s.active_controller = controller_->active();
  s.controller_id = quorum_->leader();
  s.quorum_epoch = quorum_->epoch();
  s.metadata_applied_offset = quorum_->applied_record_offset();
  s.metadata_log_end_offset = quorum_->log_end_record_offset();
  s.isr_shrinks = isr_shrinks_.load();
  s.isr_expands = isr_expands_.load();
  auto img = image();
  if (s.active_controller) {
    s.offline_partitions = 0;
    s.fenced_brokers = 0;
    for (const controller::BrokerInfo* b : img->brokers()) s.fenced_brokers += b->fenced ? 1 : 0;
  }
  for (const controller::TopicInfo* t : img->topics())
    for (const auto& p : t->partitions) {
      if (p.leader == node_id_) {
        ++s.leader_partitions;
        if (p.isr.size() < p.replicas.size()) ++s.under_replicated_partitions;
      }
      if (s.active_controller && p.leader < 0) ++s.offline_partitions;
    }
  return s;
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

TransactionSamples Broker::sample_transactions() {
  TransactionSamples out;
  for (const auto& p : replicas_->all()) {
    if (!p->is_leader()) continue;
    TransactionSample s;
    s.tp = p->tp();
    s.last_stable_offset_lag = p->high_watermark().value() - p->last_stable_offset().value();
    s.ongoing_transactions = static_cast<int64_t>(p->ongoing_txn_count());
    s.producer_ids = static_cast<int64_t>(p->producer_count());
    out.partitions.push_back(std::move(s));
  }
  if (txns_) {
    auto c = txns_->sample();
    for (const auto& [state, n] : c.ids_by_state) out.transactional_ids_by_state[coordinator::txn_state_name(state)] = n;
    out.commits = c.commits;
    out.aborts = c.aborts;
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
