#include "server/metadata_publishers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "coordinator/group/group_coordinator.h"
#include "coordinator/group/replica_group_log.h"
#include "coordinator/txn/transaction_coordinator.h"
#include "replication/raft/quorum.h"
#include "replication/replica_delta.h"
#include "runtime/clock.h"

namespace kb::server {

std::optional<runtime::PeerAddress> inter_broker_address(const controller::MetadataImage& image, int32_t node,
                                                         const std::optional<std::string>& listener) {
  const controller::BrokerInfo* b = node >= 0 ? image.broker(node) : nullptr;
  if (!b || b->fenced || b->endpoints.empty()) return std::nullopt;
  const controller::Endpoint* e = &b->endpoints.front();
  if (listener && !listener->empty())
    for (const auto& candidate : b->endpoints)
      if (candidate.listener == *listener) e = &candidate;
  return runtime::PeerAddress{e->host, e->port};
}

// ---- dynamic broker configs ----

DynamicConfigPublisher::DynamicConfigPublisher(const config::BrokerConfig& static_config)
    : static_(static_config), effective_(std::make_shared<const config::BrokerConfig>(static_config)) {}

std::shared_ptr<const config::BrokerConfig> DynamicConfigPublisher::effective() const {
  std::lock_guard lk(mu_);
  return effective_;
}

bool DynamicConfigPublisher::on_delta(const controller::MetadataDelta& delta) {
  return delta.broker_configs_changed() && rebuild(delta.after());
}

bool DynamicConfigPublisher::rebuild(const controller::MetadataImage& after) {
  static const std::map<std::string, std::string> kNone;
  const auto* cluster_default = after.broker_configs("");
  const auto* mine = after.broker_configs(std::to_string(static_.node_id()));
  auto current = effective();
  auto same = [](const auto& layer, const std::map<std::string, std::string>* stored) {
    if (!stored) return layer.empty();
    return std::equal(layer.begin(), layer.end(), stored->begin(), stored->end());
  };
  if (same(current->dynamic_default(), cluster_default) && same(current->dynamic_broker(), mine)) return false;
  std::vector<std::string> skipped;
  auto next = static_.with_dynamic(cluster_default ? *cluster_default : kNone, mine ? *mine : kNone, &skipped);
  for (const auto& s : skipped) spdlog::warn("ignoring dynamic broker config {}", s);
  if (!next.ok()) {
    // The controller checks every change, so this is a combination no single change made
    // (e.g. a cluster default and a per-broker value written by different brokers' rules).
    spdlog::error("dynamic broker configs not applied: {}", next.error().message);
    return false;
  }
  // Passwords (a listener's key store password...) are named, never shown.
  auto shown = [](const std::string& k, const std::string& v) {
    const config::PropertyDef* d = config::find_broker_property(k);
    if (!d) d = config::dynamic_listener_property(k);
    return k + "=" + (d && d->sensitive() ? std::string("[hidden]") : v);
  };
  std::vector<std::string> changes;
  for (const auto& [k, v] : next->dynamic_default()) changes.push_back(shown(k, v) + " (cluster default)");
  for (const auto& [k, v] : next->dynamic_broker()) changes.push_back(shown(k, v) + " (this broker)");
  spdlog::info("dynamic broker configs now in effect: {}",
               changes.empty() ? std::string("none") : fmt::format("{}", fmt::join(changes, ", ")));
  std::lock_guard lk(mu_);
  effective_ = std::make_shared<const config::BrokerConfig>(std::move(next.value()));
  return true;
}

// ---- replicas ----

ReplicaPublisher::ReplicaPublisher(Options options, storage::LogManager& logs, replication::ReplicaManager& replicas,
                                   LogConfigFn log_config, MinIsrFn min_isr, Next next)
    : opts_(std::move(options)),
      logs_(logs),
      replicas_(replicas),
      log_config_(std::move(log_config)),
      min_isr_(std::move(min_isr)),
      next_(std::move(next)) {}

void ReplicaPublisher::on_delta(const controller::MetadataDelta& delta) {
  if (caught_up_) return apply(delta);
  // A broker replays the metadata log from its start: until the controller has unfenced this
  // incarnation (it has caught up with its own registration, and what an earlier incarnation
  // led has moved away), the image may be stale, so no replica takes a role from it. Then
  // every role is taken at once, as from an empty image.
  const controller::MetadataImage& after = delta.after();
  const controller::BrokerInfo* me = after.broker(opts_.node_id);
  if (!me || me->fenced || me->incarnation_id != opts_.incarnation) return;
  caught_up_ = true;
  spdlog::info("broker {} caught up with the metadata log at offset {}: taking its replicas' roles", opts_.node_id,
               after.offset());
  delete_stray_logs(after);
  auto empty = std::make_shared<controller::MetadataImage>();
  empty->set_cluster(after.cluster_id(), after.controller_id());
  apply(controller::MetadataDelta::between(std::move(empty), delta.after_ptr()));
  {
    std::lock_guard lk(mu_);
    roles_taken_ = true;
  }
  cv_.notify_all();
}

void ReplicaPublisher::delete_stray_logs(const controller::MetadataImage& image) {
  // Their topic was deleted, or the replica moved, while this broker was away (a snapshot
  // does not even name the deleted topics). Kafka deletes them at start-up the same way.
  for (const TopicPartition& tp : logs_.existing_partitions()) {
    if (tp.topic == raft::Quorum::kTopic) continue;
    const controller::PartitionInfo* p = image.partition(tp.topic, tp.partition);
    if (p && std::find(p->replicas.begin(), p->replicas.end(), opts_.node_id) != p->replicas.end()) continue;
    if (auto s = replicas_.remove(tp, true); !s.ok())
      spdlog::error("deleting the stray log of {} failed: {}", tp.to_string(), s.error().message);
    else
      spdlog::info("{}: not a replica here any more; its stray log is deleted", tp.to_string());
  }
}

void ReplicaPublisher::apply(const controller::MetadataDelta& delta) {
  replication::LocalChanges changes = delta.local_changes(opts_.node_id);
  if (!changes.empty()) {
    replication::DeltaEnvironment env;
    env.log_config = log_config_;
    env.min_insync_replicas = min_isr_;
    env.replica_lag_time_max_ms = opts_.replica_lag_time_max_ms;
    env.now_ms = runtime::now_ms();
    const controller::MetadataImage& after = delta.after();
    env.leader_address = [&](int32_t leader) { return inter_broker_address(after, leader, opts_.inter_broker_listener); };
    env.existing_fetchers = [this] { return fetchers(); };
    env.fetchers = [this]() -> replication::ReplicaFetcherManager& {
      std::lock_guard lk(mu_);
      if (!fetchers_)
        fetchers_ = std::make_unique<replication::ReplicaFetcherManager>(
            opts_.fetcher, replicas_,
            replication::peer_fetch_transport("kbroker-" + std::to_string(opts_.node_id) + "-replica-fetcher",
                                              opts_.peer_security));
      return *fetchers_;
    };
    replicas_.apply_delta(changes, env);
  }
  // Its counters stay: a handler may still hold them, and counters only ever grow.
  for (const controller::TopicInfo* t : delta.deleted_topics())
    spdlog::info("topic {} deleted: {} partition logs removed", t->name, t->partitions.size());
  next_(delta);
}

bool ReplicaPublisher::wait_caught_up(int64_t timeout_ms, const std::function<bool()>& give_up) {
  // Polled in steps, so `give_up` (a metadata log this node cannot read) ends the wait early.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lk(mu_);
  while (!roles_taken_ && !give_up() && std::chrono::steady_clock::now() < deadline)
    cv_.wait_for(lk, std::chrono::milliseconds(50));
  return roles_taken_;
}

replication::ReplicaFetcherManager* ReplicaPublisher::fetchers() const {
  std::lock_guard lk(mu_);
  return fetchers_.get();
}

void ReplicaPublisher::stop_fetchers() {
  if (auto* f = fetchers()) f->stop();
}

// ---- group and transaction coordinators ----

void CoordinatorPublisher::on_delta(const controller::MetadataDelta& delta) {
  const controller::MetadataImage& before = delta.before();
  const controller::MetadataImage& after = delta.after();
  auto changes = [&](const char* topic, const std::function<void(int32_t)>& resign,
                     const std::function<void(int32_t, int32_t, int32_t)>& lead) {
    const controller::TopicInfo* was = before.topic(topic);
    const controller::TopicInfo* now = after.topic(topic);
    if (!was && !now) return;
    const bool same_topic = was && now && was->id == now->id;
    // Nothing of this topic in the delta: nothing to do (the common case).
    if (same_topic && std::none_of(delta.changed_partitions().begin(), delta.changed_partitions().end(),
                                   [&](const auto& p) { return p.first == now->id; }))
      return;
    auto led_here = [&](const controller::TopicInfo* t, int32_t p) -> const controller::PartitionInfo* {
      if (!t || p >= static_cast<int32_t>(t->partitions.size())) return nullptr;
      const auto& info = t->partitions[static_cast<size_t>(p)];
      return info.leader == node_id_ ? &info : nullptr;
    };
    int32_t before_count = was ? static_cast<int32_t>(was->partitions.size()) : 0;
    int32_t after_count = now ? static_cast<int32_t>(now->partitions.size()) : 0;
    for (int32_t p = 0; p < std::max(before_count, after_count); ++p) {
      const auto* old_info = led_here(was, p);
      const auto* new_info = led_here(now, p);
      bool unchanged = same_topic && old_info && new_info && old_info->leader_epoch == new_info->leader_epoch;
      if (unchanged) continue;
      if (old_info) resign(p);
      if (new_info) lead(p, after_count, new_info->leader_epoch);
    }
  };
  std::set<std::string> deleted;
  for (const controller::TopicInfo* t : delta.deleted_topics()) deleted.insert(t->name);
  if (!deleted.empty()) groups_.topics_deleted(std::move(deleted));
  changes(
      coordinator::ReplicaGroupLog::kTopic, [&](int32_t p) { groups_.resigned(p); },
      [&](int32_t p, int32_t count, int32_t) { groups_.became_leader(p, count); });
  changes(
      kTransactionStateTopic, [&](int32_t p) { txns_.resigned(p); },
      [&](int32_t p, int32_t count, int32_t epoch) { txns_.became_leader(p, count, epoch); });
}

}  // namespace kb::server
