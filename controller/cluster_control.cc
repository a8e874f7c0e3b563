// The active controller's part of a cluster: broker registration and sessions, fencing,
// controlled shutdown, leader election and ISR changes (AlterPartition). Kafka's
// ClusterControlManager / ReplicationControlManager behaviour, on the records of
// metadata_records.h. Every method runs under the writers' mutex and commits one batch.
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controller/controller.h"
#include "storage/files.h"

namespace kb::controller {

namespace {

constexpr int32_t kNoLeaderChange = -2;  // PartitionChangeRecord.leader: unchanged

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string ids_text(const std::vector<int32_t>& ids) { return fmt::format("[{}]", fmt::join(ids, ",")); }

metadata::PartitionChangeRecord change_of(const TopicInfo& t, const PartitionInfo& p) {
  metadata::PartitionChangeRecord r;
  r.topic_id = t.id;
  r.partition_id = p.partition;
  r.leader = kNoLeaderChange;
  return r;
}

}  // namespace

bool Controller::eligible(const MetadataImage& img, int32_t broker) const {
  const BrokerInfo* b = img.broker(broker);
  return b && !b->fenced && !b->in_controlled_shutdown;
}

std::vector<MetadataRecord> Controller::evacuate(const MetadataImage& img, int32_t id) const {
  std::vector<MetadataRecord> records;
  for (const TopicInfo* t : img.topics()) {
    for (const PartitionInfo& p : t->partitions) {
      bool leads = p.leader == id;
      if (!leads && !contains(p.isr, id)) continue;
      std::vector<int32_t> isr;
      for (int32_t b : p.isr)
        if (b != id) isr.push_back(b);
      auto r = change_of(*t, p);
      // The last in-sync replica stays in the ISR (Kafka's rule): it is the one a clean
      // election can wait for.
      if (!isr.empty()) r.isr = isr;
      if (leads) {
        int32_t next = -1;
        for (int32_t b : p.replicas)
          if (b != id && contains(isr, b) && eligible(img, b)) {
            next = b;
            break;
          }
        r.leader = next;
        spdlog::info("partition {}-{}: leader {} -> {} (broker {} leaves), ISR {}", t->name, p.partition, id, next, id,
                     ids_text(isr.empty() ? p.isr : isr));
      }
      if (r.isr || r.leader != kNoLeaderChange) records.push_back(std::move(r));
    }
  }
  return records;
}

std::vector<MetadataRecord> Controller::elect_leaders(const MetadataImage& img, bool preferred) const {
  std::vector<MetadataRecord> records;
  for (const TopicInfo* t : img.topics()) {
    for (const PartitionInfo& p : t->partitions) {
      int32_t next = -1;
      if (p.leader < 0) {
        // Clean election only: an in-sync replica (unclean.leader.election.enable is off).
        for (int32_t b : p.replicas)
          if (contains(p.isr, b) && eligible(img, b)) {
            next = b;
            break;
          }
      } else if (preferred && !p.replicas.empty()) {
        int32_t want = p.replicas.front();
        if (want != p.leader && contains(p.isr, want) && eligible(img, want)) next = want;
      }
      if (next < 0) continue;
      auto r = change_of(*t, p);
      r.leader = next;
      spdlog::info("partition {}-{}: leader {} -> {} ({} election)", t->name, p.partition, p.leader, next,
                   p.leader < 0 ? "clean" : "preferred");
      records.push_back(std::move(r));
    }
  }
  return records;
}

Result<int64_t> Controller::register_broker(const BrokerRegistration& reg) {
  std::lock_guard lk(mu_);
  if (!active_.load()) return Error{ErrorCode::NOT_CONTROLLER, kNotControllerMessage};
  if (reg.endpoints.size() != reg.security_protocols.size() || reg.id < 0)
    return Error{ErrorCode::INVALID_REQUEST, "malformed broker registration"};
  auto img = image();
  const BrokerInfo* existing = img->broker(reg.id);
  int64_t now = storage::now_ms();
  if (existing && existing->incarnation_id == reg.incarnation_id) {
    last_heartbeat_ms_[reg.id] = now;
    return existing->epoch;  // a retried registration of the same process
  }
  std::vector<MetadataRecord> records;
  if (img->features().empty()) records.push_back(bootstrap_feature_record());
  // A new incarnation (the broker restarted): what the old one led moves to in-sync replicas
  // now, and the broker leaves the ISRs; it catches up as a follower before it is unfenced.
  if (existing) records = evacuate(*img, reg.id);
  // Kafka's broker epoch: the offset of the registration record.
  const int64_t epoch = log_->end_offset() + static_cast<int64_t>(records.size());
  metadata::RegisterBrokerRecord r;
  r.broker_id = reg.id;
  r.incarnation_id = reg.incarnation_id;
  r.broker_epoch = epoch;
  for (size_t i = 0; i < reg.endpoints.size(); ++i) {
    metadata::RegisterBrokerRecord::BrokerEndpoint e;
    e.name = reg.endpoints[i].listener;
    e.host = reg.endpoints[i].host;
    e.port = reg.endpoints[i].port;
    e.security_protocol = reg.security_protocols[i];
    r.end_points.push_back(std::move(e));
  }
  r.rack = reg.rack;
  r.fenced = true;  // unfenced by a heartbeat once it has caught up with the metadata log
  records.push_back(std::move(r));
  if (auto s = commit(std::move(records)); !s.ok()) return s.error();
  last_heartbeat_ms_[reg.id] = now;
  spdlog::info("broker {} registered with epoch {} ({})", reg.id, epoch,
               existing ? "a new incarnation: restarted" : "first registration");
  return epoch;
}

HeartbeatResult Controller::heartbeat(int32_t id, int64_t epoch, int64_t metadata_offset, bool want_fence,
                                      bool want_shut_down) {
  HeartbeatResult out;
  std::lock_guard lk(mu_);
  if (!active_.load()) {
    out.error = ErrorCode::NOT_CONTROLLER;
    return out;
  }
  auto img = image();
  const BrokerInfo* b = img->broker(id);
  if (!b) {
    out.error = ErrorCode::BROKER_ID_NOT_REGISTERED;
    return out;
  }
  if (b->epoch != epoch) {
    out.error = ErrorCode::STALE_BROKER_EPOCH;
    return out;
  }
  last_heartbeat_ms_[id] = storage::now_ms();
  out.caught_up = metadata_offset >= b->epoch;
  out.fenced = b->fenced;
  if (want_shut_down) {
    if (!b->fenced || !b->in_controlled_shutdown) {
      // Controlled shutdown: leaderships move to other in-sync replicas and the broker leaves
      // every ISR, in one batch with its fencing, so it can stop at once.
      std::vector<MetadataRecord> records = evacuate(*img, id);
      metadata::BrokerRegistrationChangeRecord change;
      change.broker_id = id;
      change.broker_epoch = epoch;
      change.fenced = 1;
      change.in_controlled_shutdown = 1;
      records.push_back(std::move(change));
      if (auto s = commit(std::move(records)); !s.ok()) {
        out.error = s.code();
        return out;
      }
      spdlog::info("broker {} is shutting down: its leaderships moved, it is fenced", id);
    }
    out.fenced = true;
    out.should_shut_down = true;
    return out;
  }
  if (b->fenced && out.caught_up && !want_fence && !b->in_controlled_shutdown) {
    std::vector<MetadataRecord> records;
    metadata::UnfenceBrokerRecord u;
    u.id = id;
    u.epoch = epoch;
    records.push_back(u);
    MetadataImage after(*img);
    (void)after.apply(records.back());
    for (auto& r : elect_leaders(after, false)) records.push_back(std::move(r));
    if (auto s = commit(std::move(records)); !s.ok()) {
      out.error = s.code();
      return out;
    }
    spdlog::info("broker {} caught up with the metadata log: unfenced", id);
    out.fenced = false;
  }
  return out;
}

Result<std::vector<IsrChangeResult>> Controller::alter_partition(int32_t broker_id, int64_t broker_epoch,
                                                                 const std::vector<IsrChange>& changes) {
  std::lock_guard lk(mu_);
  if (!active_.load()) return Error{ErrorCode::NOT_CONTROLLER, kNotControllerMessage};
  auto img = image();
  const BrokerInfo* b = img->broker(broker_id);
  if (!b || (broker_epoch >= 0 && b->epoch != broker_epoch))
    return Error{ErrorCode::STALE_BROKER_EPOCH, "broker " + std::to_string(broker_id) + " epoch " +
                                                    std::to_string(broker_epoch) + " is not current"};
  std::vector<IsrChangeResult> results;
  std::vector<MetadataRecord> records;
  std::vector<size_t> changed;  // indexes of results whose partition epoch moves
  for (const auto& c : changes) {
    IsrChangeResult& res = results.emplace_back();
    const TopicInfo* t = img->topic(c.topic_id);
    if (!t) {
      res.error = ErrorCode::UNKNOWN_TOPIC_ID;
      continue;
    }
    if (c.partition < 0 || c.partition >= static_cast<int32_t>(t->partitions.size())) {
      res.error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      continue;
    }
    const PartitionInfo& p = t->partitions[static_cast<size_t>(c.partition)];
    res.leader = p.leader;
    res.leader_epoch = p.leader_epoch;
    res.partition_epoch = p.partition_epoch;
    res.isr = p.isr;
    if (p.leader != broker_id) {
      res.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    } else if (c.leader_epoch != p.leader_epoch) {
      res.error = ErrorCode::FENCED_LEADER_EPOCH;
    } else if (c.partition_epoch != p.partition_epoch) {
      res.error = ErrorCode::INVALID_UPDATE_VERSION;
    } else if (!contains(c.new_isr, broker_id) ||
               std::any_of(c.new_isr.begin(), c.new_isr.end(), [&](int32_t r) { return !contains(p.replicas, r); })) {
      res.error = ErrorCode::INVALID_REQUEST;
    } else if (std::any_of(c.new_isr.begin(), c.new_isr.end(),
                           [&](int32_t r) { return !contains(p.isr, r) && !eligible(*img, r); })) {
      res.error = ErrorCode::INELIGIBLE_REPLICA;  // only live brokers may join the ISR
    }
    if (res.error != ErrorCode::NONE) continue;
    std::vector<int32_t> isr = c.new_isr;
    if (isr == p.isr) continue;
    auto r = change_of(*t, p);
    r.isr = isr;
    records.push_back(std::move(r));
    spdlog::info("partition {}-{}: ISR {} -> {} (asked by leader {})", t->name, p.partition, ids_text(p.isr),
                 ids_text(isr), broker_id);
    res.isr = std::move(isr);
    changed.push_back(results.size() - 1);
  }
  if (!records.empty()) {
    if (auto s = commit(std::move(records)); !s.ok()) return s.error();
    for (size_t i : changed) ++results[i].partition_epoch;
  }
  return results;
}

void Controller::maintain(int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (!active_.load()) return;
  auto img = image();
  if (reset_sessions_.exchange(false)) {
    // A new active controller: every broker gets a whole session to find it.
    last_heartbeat_ms_.clear();
    for (const BrokerInfo* b : img->brokers()) last_heartbeat_ms_[b->id] = now_ms;
  }
  const int64_t session_ms = config_.get_int("broker.session.timeout.ms");
  MetadataImage work(*img);
  std::vector<MetadataRecord> records;
  auto add = [&](std::vector<MetadataRecord> more) {
    for (auto& r : more) {
      (void)work.apply(r);
      records.push_back(std::move(r));
    }
  };
  for (const BrokerInfo* b : img->brokers()) {
    if (b->fenced) continue;
    auto seen = last_heartbeat_ms_.try_emplace(b->id, now_ms).first->second;
    if (now_ms - seen < session_ms) continue;
    spdlog::warn("broker {} sent no heartbeat for {} ms (broker.session.timeout.ms {}): fencing it", b->id,
                 now_ms - seen, session_ms);
    std::vector<MetadataRecord> fence = evacuate(work, b->id);
    metadata::FenceBrokerRecord f;
    f.id = b->id;
    f.epoch = b->epoch;
    fence.push_back(f);
    add(std::move(fence));
  }
  bool rebalance = false;
  if (config_.get_bool("auto.leader.rebalance.enable")) {
    int64_t interval = config_.get_long("leader.imbalance.check.interval.seconds") * 1000;
    if (now_ms - last_rebalance_ms_ >= interval) {
      rebalance = last_rebalance_ms_ != 0;  // not in the first moments of a new controller
      last_rebalance_ms_ = now_ms;
    }
  }
  add(elect_leaders(work, rebalance));
  if (records.empty()) return;
  if (auto s = commit(std::move(records)); !s.ok())
    spdlog::warn("controller maintenance could not commit: {}", s.error().message);
}

void Controller::set_active(bool active) {
  if (active) reset_sessions_.store(true);
  active_.store(active);
}

}  // namespace kb::controller
