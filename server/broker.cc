#include "server/broker.h"

#include <fmt/ranges.h>
#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <set>

#include "config/settings.h"
#include "controller/broker_lifecycle.h"
#include "controller/meta_properties.h"
#include "controller/producer_id_manager.h"
#include "controller/controller_quorum.h"
#include "coordinator/group/replica_group_log.h"
#include "coordinator/txn/txn_marker_sender.h"
#include "protocol/messages/allocate_producer_ids_request.h"
#include "protocol/messages/allocate_producer_ids_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "controller/controller_channel.h"
#include "server/dispatch.h"
#include "server/forwarding.h"
#include "server/handlers/handlers.h"
#include "server/process_metrics.h"
#include "replication/raft/quorum.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"
#include "runtime/peer_client.h"
#include "runtime/rate_limited_log.h"
#include "server/http_server.h"
#include "server/metadata_publishers.h"
#include "server/listener_security.h"
#include "server/peer_security.h"
#include "server/network.h"
#include "server/network_limits.h"
#include "server/readiness.h"
#include "server/schema_registry_service.h"

namespace kb::server {

using controller::ProducerIdManager;
using raft::Quorum;
using runtime::LoopThread;
using runtime::PeerAddress;
using runtime::PeerClient;

namespace {

// CreateTopics as this broker sends it for auto-creation (topic configs, v5+ answers).
constexpr int16_t kAutoCreateVersion = 5;

// The follower fetcher's settings from the broker's replica.fetch.* properties.
replication::ReplicaFetcherOptions replica_fetcher_options(const config::BrokerConfig& config) {
  replication::ReplicaFetcherOptions o;
  o.node_id = config.node_id();
  o.max_wait_ms = config.settings().replica_fetch_wait_max_ms;
  o.min_bytes = config.settings().replica_fetch_min_bytes;
  o.max_bytes = config.settings().replica_fetch_response_max_bytes;
  o.partition_max_bytes = config.settings().replica_fetch_max_bytes;
  o.backoff_ms = config.settings().replica_fetch_backoff_ms;
  o.fetchers_per_leader = config.settings().num_replica_fetchers;
  return o;
}

}  // namespace

Broker::Broker(config::BrokerConfig config)
    : config_(std::move(config)),
      node_id_(config_.node_id()),
      dynamic_configs_(std::make_unique<DynamicConfigPublisher>(config_)),
      tls_reloader_(std::make_unique<TlsReloader>()),
      authorization_(std::make_unique<Authorization>(!config_.settings().authorizer_class_name.empty(),
                                                     authorizer_config(config_))),
      quotas_(std::make_unique<ClientQuotaManager>(QuotaOptions{
          config_.settings().quota_window_num, config_.settings().quota_window_size_seconds * 1000LL,
          config_.settings().controller_quota_window_num,
          config_.settings().controller_quota_window_size_seconds * 1000LL})) {}

std::shared_ptr<const config::BrokerConfig> Broker::effective_config() const { return dynamic_configs_->effective(); }

Status Broker::check_listener_stores(const config::BrokerConfig& next) const { return tls_reloader_->check(next); }

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
  auto broker_security = make_peer_security(config_, PeerTraffic::Broker);
  if (!broker_security.ok()) return broker_security.error();
  broker_peer_security_ = std::move(*broker_security);
  auto controller_security = make_peer_security(config_, PeerTraffic::Controller);
  if (!controller_security.ok()) return controller_security.error();
  controller_peer_security_ = std::move(*controller_security);
  storage::LogManagerOptions lo;
  for (const auto& d : config_.log_dirs()) lo.log_dirs.emplace_back(d);
  lo.retention_check_interval_ms = config_.settings().log_retention_check_interval_ms;
  if (auto flush_ms = config_.settings().log_flush_interval_ms) lo.flush_interval_ms = std::max<int64_t>(1, *flush_ms);
  lo.cleaner_enable = config_.settings().log_cleaner_enable;
  lo.cleaner.threads = config_.settings().log_cleaner_threads;
  lo.cleaner.backoff_ms = config_.settings().log_cleaner_backoff_ms;
  lo.cleaner.dedupe_buffer_size = config_.settings().log_cleaner_dedupe_buffer_size;
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
  gc.min_session_timeout_ms = config_.settings().group_min_session_timeout_ms;
  gc.max_session_timeout_ms = config_.settings().group_max_session_timeout_ms;
  gc.initial_rebalance_delay_ms = config_.settings().group_initial_rebalance_delay_ms;
  gc.max_size = config_.settings().group_max_size;
  gc.offset_metadata_max_bytes = config_.settings().offset_metadata_max_bytes;
  gc.offsets_retention_ms = int64_t{config_.settings().offsets_retention_minutes} * 60 * 1000;
  gc.offsets_retention_check_interval_ms = config_.settings().offsets_retention_check_interval_ms;
  coordinator_loop_ = std::make_unique<LoopThread>("kb-coordinator");
  group_log_ = std::make_unique<coordinator::ReplicaGroupLog>(
      *replicas_, *coordinator_loop_, config_.settings().offsets_commit_timeout_ms,
      coordinator::ReplicaGroupLog::kTopic, config_.settings().offsets_topic_compression_codec);
  groups_ = std::make_unique<coordinator::GroupCoordinator>(gc, *coordinator_loop_, *group_log_);

  coordinator::TxnConfig tc;
  tc.max_timeout_ms = config_.settings().transaction_max_timeout_ms;
  tc.abort_timed_out_interval_ms = config_.settings().transaction_abort_timed_out_transaction_cleanup_interval_ms;
  tc.id_expiration_ms = config_.settings().transactional_id_expiration_ms;
  tc.remove_expired_interval_ms = config_.settings().transaction_remove_expired_transaction_cleanup_interval_ms;
  marker_client_ = std::make_unique<PeerClient>("kbroker-" + std::to_string(node_id_) + "-txn-markers",
                                                broker_peer_security_);
  txn_markers_ = std::make_unique<coordinator::BrokerTxnMarkerSender>(
      [this] { return image(); },
      [this](const controller::MetadataImage& img, int32_t node) {
        return inter_broker_address(img, node, config_.settings().inter_broker_listener_name);
      },
      *marker_client_);
  verifier_client_ = std::make_unique<PeerClient>("kbroker-" + std::to_string(node_id_) + "-txn-verifier",
                                                  broker_peer_security_);
  txn_verifier_ = std::make_unique<coordinator::TxnVerifier>(
      [this] { return image(); },
      [this](const controller::MetadataImage& img, int32_t node) {
        return inter_broker_address(img, node, config_.settings().inter_broker_listener_name);
      },
      *verifier_client_);
  replicas_->set_transaction_verification(config_.settings().transaction_partition_verification_enable);
  // Kafka appends to __transaction_state with request.timeout.ms (30 s) for the ISR.
  txn_log_ = std::make_unique<coordinator::ReplicaGroupLog>(*replicas_, *coordinator_loop_, 30000,
                                                           kTransactionStateTopic);
  txns_ = std::make_unique<coordinator::TransactionCoordinator>(
      tc, *coordinator_loop_, *txn_log_, *txn_markers_,
      [this](std::function<void(Result<int64_t>)> done) { producer_ids_->next_id(std::move(done)); });

  if (auto s = open_controller(); !s.ok()) return s;
  // The publishers: the effective configuration first, then the replicas, which hand the
  // coordinators and the ISR counters their view once this broker has caught up. The
  // listener is called at once with everything there is, then with each change.
  ReplicaPublisher::Options ro;
  ro.node_id = node_id_;
  ro.incarnation = incarnation_;
  ro.fetcher = replica_fetcher_options(config_);
  ro.inter_broker_listener = config_.settings().inter_broker_listener_name;
  ro.peer_security = broker_peer_security_;
  ro.replica_lag_time_max_ms = config_.settings().replica_lag_time_max_ms;
  coordinator_publisher_ = std::make_unique<CoordinatorPublisher>(node_id_, *groups_, *txns_);
  replica_publisher_ = std::make_unique<ReplicaPublisher>(
      ro, *logs_, *replicas_, [this](const auto& overrides) { return log_config_for(overrides); },
      [this](const auto& overrides) { return min_insync_replicas_for(overrides); },
      [this](const controller::MetadataDelta& local) {
        coordinator_publisher_->on_delta(local);
        count_isr_changes(local);
      });
  connection_quotas_ = std::make_shared<ConnectionQuotas>(ConnectionLimits::from_config(config_));
  metadata_->controller->subscribe([this](const controller::MetadataDelta& delta) {
    if (dynamic_configs_->on_delta(delta)) {
      auto eff = effective_config();
      logs_->reconfigure_cleaner(eff->settings().log_cleaner_threads, eff->settings().log_cleaner_backoff_ms);
      connection_quotas_->set_limits(ConnectionLimits::from_config(*eff));
      replicas_->set_transaction_verification(eff->settings().transaction_partition_verification_enable);
    }
    // Also when nothing changed in the image's values: a store set again may have a new file.
    if (delta.broker_configs_changed()) tls_reloader_->reload(*effective_config());
    replica_publisher_->on_delta(delta);
    if (delta.client_quotas_changed()) {
      quotas_->update(delta.after().client_quotas());
      connection_quotas_->set_ip_rates(delta.after().client_quotas());
    }
    // The authorizer follows the image's ACLs on every broker (Kafka's AclPublisher).
    if (delta.acls_changed()) authorization_->set_acls(delta.after().acls());
  });
  logs_->start();
  producer_ids_ = std::make_unique<ProducerIdManager>(
      [this](ProducerIdManager::BlockCallback done) { allocate_producer_id_block(std::move(done)); });
  schedule_producer_expiration();
  controller_unknown_since_ms_ = runtime::now_ms();
  schedule_controller_watch();

  metrics_.add_collector([this] { return quota_families(quotas_->samples(runtime::steady_ms())); });
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
  metrics_.set_cluster_source([this] { return sample_cluster(); });
  metrics_.add_collector(process_collector());
  metrics_.set_log_dir_source([this] {
    std::vector<LogDirSample> out;
    for (const auto& d : logs_->log_dir_infos()) {
      LogDirSample sample{d.path.string(), !d.online()};
      std::error_code ec;
      auto space = std::filesystem::space(d.path, ec);
      if (!ec) sample.free_bytes = static_cast<double>(space.available), sample.total_bytes = static_cast<double>(space.capacity);
      out.push_back(sample);
    }
    return out;
  });

  // The controller listeners serve at once (the quorum's votes and fetches, registrations
  // and heartbeats travel on them); the others once this broker has caught up with the
  // metadata and the controller unfenced it, as Kafka's BrokerServer does.
  NetworkOptions no;
  auto controller_names = config_.settings().controller_listener_names;
  auto is_controller_listener = [&](const std::string& name) {
    return std::any_of(controller_names.begin(), controller_names.end(),
                       [&](const std::string& n) { return strcasecmp(n.c_str(), name.c_str()) == 0; });
  };
  // max.connections spares the inter-broker listener when clients have another one (Kafka's
  // protected listener) and the controller listeners (Kafka's controller has its own).
  std::string inter_broker = config_.settings().inter_broker_listener_name.value_or("");
  if (inter_broker.empty() && !config_.advertised_listeners().empty())
    inter_broker = config_.advertised_listeners().front().name;
  const auto listeners = config_.listeners();
  const auto data_listeners = std::count_if(listeners.begin(), listeners.end(),
                                            [&](const config::Listener& l) { return !is_controller_listener(l.name); });
  // The effective configuration: a listener's stores may have been changed dynamically.
  const auto serving = effective_config();
  auto secured = make_listener_security(
      *serving, [this](security::ScramMechanism m, const std::string& user) { return scram_credential(m, user); });
  if (!secured.ok()) return secured.error();
  for (const auto& l : listeners) {
    const bool controller_listener = is_controller_listener(l.name);
    const bool exempt = controller_listener || (data_listeners > 1 && strcasecmp(l.name.c_str(), inter_broker.c_str()) == 0);
    auto sec = secured->find(l.name);
    no.listeners.push_back({l.name, l.host, l.port, !controller_listener, exempt,
                            sec == secured->end() ? nullptr : sec->second});
  }
  no.queued_max_request_bytes = config_.settings().queued_max_request_bytes;
  no.quotas = connection_quotas_;
  no.threads = config_.settings().num_network_threads;
  no.max_request_bytes = config_.settings().socket_request_max_bytes;
  no.connections_max_idle_ms = config_.settings().connections_max_idle_ms;
  no.socket_send_buffer_bytes = config_.settings().socket_send_buffer_bytes;
  no.socket_receive_buffer_bytes = config_.settings().socket_receive_buffer_bytes;
  network_ = std::make_unique<Network>(no, *this);
  if (auto s = network_->start(); !s.ok()) return s;
  tls_reloader_->start(*serving, [net = network_.get()](const std::string& listener, security::TlsContext tls) {
    net->set_tls_context(listener, std::move(tls));
  });
  tls_reloader_->reload(*effective_config());  // a change that came while the listeners started

  if (config_.settings().schema_registry_enable) {
    SchemaRegistryService::Hooks h;
    h.controller = metadata_->controller.get();
    h.address = [this](const controller::MetadataImage& img, int32_t node) {
      return inter_broker_address(img, node, config_.settings().inter_broker_listener_name);
    };
    h.create_topic = [this](const controller::CreateTopicSpec& spec) {
      return ensure_internal_topic(spec, "schema.registry.topic.replication.factor");
    };
    h.lone_broker = config_.quorum_voters().empty();
    h.peer_security = broker_peer_security_;
    schema_registry_ = std::make_unique<SchemaRegistryService>(config_, std::move(h));
    metrics_.add_collector(schema_registry_->collector());
  }
  // What /ready judges (server/readiness.h), read on the HTTP thread.
  auto readiness_state = [this] {
    ReadinessState s;
    s.node_id = node_id_;
    s.stopping = stopped_.load();
    s.controller_id = metadata_->quorum->leader();
    // A registration of an earlier run of this node does not count: this one has not registered.
    if (const controller::BrokerInfo* me = image()->broker(node_id_); me && me->incarnation_id == incarnation_)
      s.registration = me->fenced ? ReadinessState::Registration::fenced : ReadinessState::Registration::unfenced;
    s.caught_up = replica_publisher_->wait_caught_up(0, [] { return true; });  // no wait: whether it has
    s.log_dirs = logs_->log_dir_infos();
    return s;
  };
  http_ = std::make_unique<HttpServer>(
      config_.metrics_host(), config_.metrics_port(),
      HttpServer::Routes{[this] { return metrics_.scrape(); }, [this] { return !stopped_.load(); },
                         [readiness_state] {
                           auto r = assess_readiness(readiness_state());
                           return std::make_pair(r.ready, std::move(r.json));
                         }});
  if (schema_registry_) http_->add_listener(schema_registry_->listener());
  if (auto s = http_->start(); !s.ok()) return s;
  if (schema_registry_) schema_registry_->start();

  {
    controller::LifecycleOptions lo;
    lo.node_id = node_id_;
    lo.cluster_id = metadata_->controller->image()->cluster_id();
    lo.incarnation_id = incarnation_;
    for (const auto& l : config_.advertised_listeners()) {
      lo.endpoints.push_back({l.name, l.host, l.port});
      lo.security_protocols.push_back(controller::security_protocol_id(l.security_protocol));
    }
    lo.rack = config_.settings().broker_rack;
    if (lo.rack && lo.rack->empty()) lo.rack.reset();
    lo.heartbeat_interval_ms = config_.settings().broker_heartbeat_interval_ms;
    lo.replica_lag_time_max_ms = config_.settings().replica_lag_time_max_ms;
    lo.high_watermark_checkpoint_interval_ms = config_.settings().replica_high_watermark_checkpoint_interval_ms;
    // Each dir's directory.id (meta.properties, written before the metadata log opened): the
    // controller tracks replicas by it, and a dir that goes offline is named by it.
    for (const auto& d : config_.log_dirs()) {
      auto props = controller::read_meta_properties(d);
      if (!props.ok()) return props.error();
      lo.log_dir_ids.push_back(props->directory_id);
    }
    lo.logs = logs_.get();
    lifecycle_ = std::make_unique<controller::BrokerLifecycle>(lo, *channel_, *metadata_->controller, *replicas_);
  }
  const int64_t wait_ms = config_.settings().broker_session_timeout_ms;
  const bool caught_up =
      replica_publisher_->wait_caught_up(wait_ms, [this] { return !metadata_->controller->failure().ok(); });
  if (auto s = metadata_->controller->failure(); !s.ok()) return s;
  if (!caught_up)
    spdlog::warn("broker {} was not unfenced by the controller within {} ms (broker.session.timeout.ms); serving "
                 "clients anyway",
                 node_id_, wait_ms);
  network_->serve_deferred();

  spdlog::info("kbroker node {} serving Kafka on {} and metrics on {}:{}", node_id_,
               fmt::join(config_.settings().listeners, ","), config_.metrics_host(),
               http_->bound_port());
  return {};
}

void Broker::stop() {
  if (stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  if (lifecycle_) {
    // Controlled shutdown: the controller moves this broker's leaderships to other in-sync
    // replicas first, so clients switch leaders without losing acknowledged records.
    int64_t timeout = int64_t{config_.settings().broker_session_timeout_ms} * 2;
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
  tls_reloader_->stop();
  if (network_) network_->stop(std::chrono::seconds(5));
  if (http_) http_->stop();
  if (coordinator_loop_) coordinator_loop_->stop(std::chrono::seconds(1));
  // Nothing starts a delayed operation any more (no requests, no coordinator writes): answer
  // what still waits while the image it may consult is there.
  if (replicas_) replicas_->complete_delayed_operations();
  lifecycle_.reset();
  if (channel_) channel_->stop();
  if (controller_requests_) controller_requests_->stop(std::chrono::seconds(5));
  if (metadata_) metadata_->quorum->stop();
  if (replica_publisher_) replica_publisher_->stop_fetchers();
  channel_.reset();
  metadata_.reset();
  if (quorum_peers_) quorum_peers_->stop();
  if (peers_) peers_->stop();
  if (marker_client_) marker_client_->stop();
  if (verifier_client_) verifier_client_->stop();
  if (replicas_) {
    // Clean shutdown: no append runs any more, so each snapshot is the state at its log end.
    replicas_->write_producer_snapshots();
    // Clean shutdown: the next start knows exactly what was committed.
    if (logs_)
      if (auto s = replicas_->checkpoint_high_watermarks(); !s.ok())
        spdlog::error("high watermark checkpoint failed: {}", s.error().message);
  }
  if (logs_) logs_->shutdown();
  spdlog::info("shutdown complete");
}

Status Broker::open_controller() {
  auto cluster_id = controller::ensure_cluster_id(config_);
  if (!cluster_id.ok()) return cluster_id.error();
  peers_ = std::make_unique<PeerClient>("kbroker-" + std::to_string(node_id_), controller_peer_security_);
  quorum_peers_ = std::make_unique<PeerClient>("kbroker-quorum-" + std::to_string(node_id_), controller_peer_security_);
  controller_requests_ = std::make_unique<LoopThread>("kb-ctl-requests");
  auto cq = controller::open_controller_quorum(config_, cluster_id.value(), *logs_, *quorum_peers_);
  if (!cq.ok()) return cq.error();
  metadata_ = std::move(cq.value());
  channel_ = std::make_unique<controller::ControllerChannel>(
      node_id_, *metadata_->quorum, *peers_,
      [this](int16_t api_key, int16_t version, std::vector<uint8_t> body, controller::ControllerChannel::Callback done) {
        serve_locally(api_key, version, std::move(body), std::move(done));
      },
      config_.settings().controller_quorum_retry_backoff_ms);
  return {};
}

void Broker::serve_locally(int16_t api_key, int16_t version, std::vector<uint8_t> body,
                           controller::ControllerChannel::Callback done) {
  RequestContext ctx;
  ctx.api_key = api_key;
  ctx.api_version = version;
  ctx.client_id = "kbroker-" + std::to_string(node_id_);
  ctx.peer = "(this broker)";
  ctx.frame = std::make_shared<Frame>(body.begin(), body.end());
  ctx.body = std::span<uint8_t>(ctx.frame->data(), ctx.frame->size());
  ctx.broker = this;
  ctx.scheduler = controller_requests_.get();
  ctx.from_this_broker = true;
  if (!find_handler(api_key)) return done(Error{ErrorCode::UNSUPPORTED_VERSION, "no handler for api key " + std::to_string(api_key)});
  dispatch(ctx, [done = std::move(done)](Response&& r) {
    if (!r.send) return done(Error{ErrorCode::CORRUPT_MESSAGE, "the request was refused as malformed"});
    done(std::move(r.body.buffer()));
  });
}

int32_t Broker::active_controller_id() const { return metadata_->quorum->leader(); }

void Broker::run_controller_request(std::function<void()> work) { controller_requests_->post(std::move(work)); }

bool Broker::controller_listener(const std::string& listener) const {
  for (const auto& n : config_.settings().controller_listener_names)
    if (strcasecmp(n.c_str(), listener.c_str()) == 0) return true;
  return false;
}

void Broker::create_topics_async(const std::vector<controller::CreateTopicSpec>& specs) {
  msg::CreateTopicsRequest req;
  req.timeout_ms = static_cast<int32_t>(kForwardTimeoutMs);
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
  RequestContext ctx;
  ctx.api_key = msg::CreateTopicsRequest::kApiKey;
  ctx.api_version = kAutoCreateVersion;
  ctx.client_id = "kbroker-" + std::to_string(node_id_) + "-auto-create";
  ctx.peer = "(this broker)";
  ctx.principal = std::string(kThisBrokerPrincipal);  // the controller lets the broker create them
  wire::Writer w;
  req.encode(w, kAutoCreateVersion);
  forward_to_controller(*this, ctx, std::move(w.buffer()), [](Result<std::vector<uint8_t>> r) {
    if (!r.ok()) {
      // Retried by the clients every ~100 ms while no controller is known: said every 10 s.
      static runtime::RateLimitedLog failures;
      return failures.warn("", "topic creation through the controller failed: {}", r.error().message);
    }
    msg::CreateTopicsResponse resp;
    wire::Reader rd(std::span<const uint8_t>(r->data(), r->size()));
    if (!resp.decode(rd, kAutoCreateVersion)) return spdlog::warn("undecodable CreateTopics answer from the controller");
    for (const auto& t : resp.topics) {
      auto code = static_cast<ErrorCode>(t.error_code);
      if (code == ErrorCode::NONE)
        spdlog::info("auto-created topic {} with {} partitions", t.name, t.num_partitions);
      else if (code != ErrorCode::TOPIC_ALREADY_EXISTS)
        spdlog::warn("cannot create topic {}: {}", t.name, t.error_message.value_or(std::string(error_name(code))));
    }
  });
}

void Broker::allocate_producer_id_block(std::function<void(Result<controller::ProducerIdBlock>)> done) {
  auto img = image();
  const controller::BrokerInfo* me = img->broker(node_id_);
  msg::AllocateProducerIdsRequest req;
  req.broker_id = node_id_;
  req.broker_epoch = me && me->incarnation_id == incarnation_ ? me->epoch : -1;
  channel_->call<msg::AllocateProducerIdsRequest, msg::AllocateProducerIdsResponse>(
      req, 0, config_.settings().controller_quorum_request_timeout_ms,
      [done = std::move(done)](Result<msg::AllocateProducerIdsResponse> r) {
        if (!r.ok()) return done(r.error());
        if (r->error_code != 0)
          return done(Error{static_cast<ErrorCode>(r->error_code), "AllocateProducerIds refused by the controller"});
        done(controller::ProducerIdBlock{-1, r->producer_id_start, r->producer_id_len});
      });
}

bool Broker::late_transaction(const replication::Partition& p, int64_t now_ms) {
  // Kafka's LATE_TRANSACTION_BUFFER_MS: a coordinator aborts a transaction at its timeout, at
  // most transaction.max.timeout.ms, within its abort interval; one still open well past that
  // has no coordinator that will end it.
  constexpr int64_t kLateTransactionBufferMs = 5 * 60 * 1000;
  auto txn = p.is_leader() ? p.oldest_open_txn() : std::nullopt;
  const int64_t max_timeout_ms = config_.settings().transaction_max_timeout_ms;
  if (!txn || txn->last_timestamp <= 0 || now_ms - txn->last_timestamp <= max_timeout_ms + kLateTransactionBufferMs)
    return false;
  static runtime::RateLimitedLog late(kLateTransactionBufferMs);
  late.warn(p.tp().to_string(), "{}: the transaction of producer {} open since offset {} is late: its producer last wrote {} s ago, "
                 "past transaction.max.timeout.ms ({} ms); read_committed consumers wait at offset {}. If no "
                 "coordinator ends it, abort it with WriteTxnMarkers (kafka-transactions.sh abort)",
                 p.tp().to_string(), txn->producer_id, txn->first_offset, (now_ms - txn->last_timestamp) / 1000,
                 max_timeout_ms, txn->first_offset);
  return true;
}

void Broker::schedule_producer_expiration() {
  producer_expiration_timer_ =
      coordinator_loop_->after_ms(config_.settings().producer_id_expiration_check_interval_ms, [this] {
        const int64_t now = runtime::now_ms();
        size_t n = replicas_->remove_expired_producers(now, config_.settings().producer_id_expiration_ms);
        if (n > 0) spdlog::info("{} idle producer ids expired", n);
        for (const auto& p : replicas_->all()) late_transaction(*p, now);  // said even with no scrapes
        schedule_producer_expiration();
      });
}

void Broker::schedule_controller_watch() {
  constexpr int64_t kIntervalMs = 10000;
  controller_watch_timer_ = coordinator_loop_->after_ms(kIntervalMs, [this] {
    const int64_t now = runtime::now_ms();
    if (metadata_->quorum->leader() >= 0) {
      controller_unknown_since_ms_ = -1;
    } else {
      if (controller_unknown_since_ms_ < 0) controller_unknown_since_ms_ = now - kIntervalMs;
      const auto& voters = config_.settings().controller_quorum_voters;
      spdlog::warn("no active controller known for {} s (controller.quorum.voters: {})",
                   (now - controller_unknown_since_ms_) / 1000,
                   voters.empty() ? std::string("this node alone") : fmt::format("{}", fmt::join(voters, ",")));
    }
    schedule_controller_watch();
  });
}

int32_t Broker::min_insync_replicas_for(const std::map<std::string, std::string>& overrides) const {
  auto effective = effective_config();
  auto tc = config::TopicConfig::make(*effective, overrides);
  return tc.ok() ? static_cast<int32_t>(tc->get_long("min.insync.replicas")) : effective->settings().min_insync_replicas;
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
    if (is_internal_topic(n)) {
      // A client asking for an internal topic gets it with its own settings, not the
      // defaults of an ordinary topic.
      controller::CreateTopicResult r;
      r.name = n;
      auto count = n == kTransactionStateTopic ? ensure_transaction_state_topic() : ensure_offsets_topic();
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
  if (!specs.empty()) {
    // Creation waits for the quorum: it goes to the active controller (this node or
    // another) off this network thread, and the client retries (LEADER_NOT_AVAILABLE)
    // until the topic appears in this broker's image.
    create_topics_async(specs);
    for (const auto& s : specs) {
      controller::CreateTopicResult r;
      r.name = s.name;
      r.message = "forwarded to the active controller";
      results.push_back(std::move(r));
    }
  }
  return results;
}

Result<int32_t> Broker::ensure_offsets_topic() {
  controller::CreateTopicSpec spec;
  spec.name = coordinator::ReplicaGroupLog::kTopic;
  spec.num_partitions = config_.settings().offsets_topic_num_partitions;
  spec.replication_factor = static_cast<int16_t>(config_.settings().offsets_topic_replication_factor);
  spec.configs = {{"cleanup.policy", "compact"},
                  {"compression.type", "producer"},
                  {"segment.bytes", std::to_string(config_.settings().offsets_topic_segment_bytes)}};
  return ensure_internal_topic(spec, "offsets.topic.replication.factor");
}

Result<int32_t> Broker::ensure_transaction_state_topic() {
  controller::CreateTopicSpec spec;
  spec.name = kTransactionStateTopic;
  spec.num_partitions = config_.settings().transaction_state_log_num_partitions;
  spec.replication_factor = static_cast<int16_t>(config_.settings().transaction_state_log_replication_factor);
  // Kafka's default min ISR of 2 would refuse every write on a one-broker setup whose
  // replication factor is 1: the topic gets at most its replication factor.
  int min_isr = std::min<int>(config_.settings().transaction_state_log_min_isr, spec.replication_factor);
  spec.configs = {{"cleanup.policy", "compact"},
                  {"compression.type", "uncompressed"},
                  {"min.insync.replicas", std::to_string(min_isr)},
                  {"unclean.leader.election.enable", "false"},
                  {"segment.bytes", std::to_string(config_.settings().transaction_state_log_segment_bytes)}};
  return ensure_internal_topic(spec, "transaction.state.log.replication.factor");
}

Result<int32_t> Broker::ensure_internal_topic(const controller::CreateTopicSpec& spec, const char* replication_property) {
  const std::string& topic = spec.name;
  if (const controller::TopicInfo* t = image()->topic(topic)) return static_cast<int32_t>(t->partitions.size());
  // Refused at once (and said why) while too few brokers are registered; otherwise created
  // through the active controller, and the client asks again (COORDINATOR_NOT_AVAILABLE).
  auto img = image();
  size_t brokers = 0;
  for (const controller::BrokerInfo* b : img->brokers()) brokers += b->in_controlled_shutdown ? 0 : 1;
  if (spec.replication_factor > 0 && static_cast<size_t>(spec.replication_factor) > brokers) {
    std::string why = "cannot create " + topic + ": the replication factor " + std::to_string(spec.replication_factor) +
                      " (" + replication_property + ") is more than the " + std::to_string(brokers) +
                      " registered broker(s)";
    spdlog::warn("{}", why);
    return Result<int32_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE, why);
  }
  create_topics_async({spec});
  return Result<int32_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE, topic + " is being created by the active controller");
}

void Broker::count_isr_changes(const controller::MetadataDelta& delta) {
  for (const auto& [id, partition] : delta.changed_partitions()) {
    const controller::TopicInfo* t = delta.after().topic(id);
    const controller::TopicInfo* prev = delta.before().topic(id);
    if (!t || !prev || partition >= static_cast<int32_t>(prev->partitions.size())) continue;
    const auto& now = t->partitions[static_cast<size_t>(partition)];
    const auto& was = prev->partitions[static_cast<size_t>(partition)];
    if (now.leader != node_id_ || was.leader != node_id_ || now.isr == was.isr) continue;
    if (now.isr.size() < was.isr.size()) ++isr_shrinks_;
    else if (now.isr.size() > was.isr.size()) ++isr_expands_;
    // Kafka's "Shrinking ISR from 1,2,3 to 1,2" / "Expanding ISR", as the controller applied it.
    spdlog::info("{}-{}: ISR {} from {} to {} (leader epoch {})", t->name, partition,
                 now.isr.size() < was.isr.size() ? "shrunk" : now.isr.size() > was.isr.size() ? "expanded" : "changed",
                 fmt::join(was.isr, ","), fmt::join(now.isr, ","), now.leader_epoch);
  }
}

ClusterSample Broker::sample_cluster() {
  ClusterSample s;
  s.active_controller = metadata_->controller->active();
  s.controller_id = metadata_->quorum->leader();
  s.quorum_epoch = metadata_->quorum->epoch();
  s.metadata_applied_offset = metadata_->quorum->applied_record_offset();
  s.metadata_log_end_offset = metadata_->quorum->log_end_record_offset();
  s.isr_shrinks = isr_shrinks_.load();
  s.isr_expands = isr_expands_.load();
  auto img = image();
  if (s.active_controller) {
    s.offline_partitions = 0;
    s.fenced_brokers = 0;
    for (const controller::BrokerInfo* b : img->brokers()) s.fenced_brokers += b->fenced ? 1 : 0;
  }
  for (const controller::BrokerInfo* b : img->brokers()) s.online_brokers += b->fenced ? 0 : 1;
  for (const controller::TopicInfo* t : img->topics()) {
    ++s.topics;
    std::optional<int32_t> min_isr;  // the topic's, looked up once a partition led here needs it
    for (const auto& p : t->partitions) {
      ++s.partitions;
      if (p.leader == node_id_) {
        ++s.leader_partitions;
        if (p.isr.size() < p.replicas.size()) ++s.under_replicated_partitions;
        if (!min_isr) min_isr = min_insync_replicas_for(t->configs);
        if (static_cast<int32_t>(p.isr.size()) < *min_isr) ++s.under_min_isr_partitions;
      }
      if (s.active_controller && p.leader < 0) ++s.offline_partitions;
    }
  }
  auto elections = metadata_->controller->election_counts();
  s.leader_elections = elections.leader;
  s.unclean_leader_elections = elections.unclean;
  s.produce_purgatory = static_cast<int64_t>(replicas_->waiting_produces());
  s.fetch_purgatory = static_cast<int64_t>(replicas_->waiting_fetches());
  if (network_) s.queued_request_bytes = network_->queued_request_bytes();
  if (auto* fetchers = replica_publisher_->fetchers())
    for (const auto& [tp, leader_high_watermark] : fetchers->leader_high_watermarks())
      if (auto p = replicas_->get(tp); p && !p->is_leader())
        s.follower_lag.emplace_back(tp, std::max<int64_t>(0, leader_high_watermark - p->log_end_offset().value()));
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
    s.late_transaction = late_transaction(*p, runtime::now_ms());
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

std::optional<security::ScramCredential> Broker::scram_credential(security::ScramMechanism mechanism,
                                                                  const std::string& user) const {
  // The metadata image's UserScramCredentialRecords: a user added or removed on any broker
  // counts here as soon as this broker has the record.
  return image()->scram_credential(mechanism, user);
}

}  // namespace kb::server
