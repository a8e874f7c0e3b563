// The active controller's part of a cluster: broker registration and sessions, fencing,
// controlled shutdown, leader election (clean, preferred and unclean; ElectLeaders), ISR
// changes (AlterPartition) and partition reassignments (KIP-455). Kafka's
// ClusterControlManager / ReplicationControlManager behaviour, on the records of
// metadata_records.h. Every writing method runs under the writers' mutex and commits one batch.
//
// Every partition change goes through build_change (Kafka's PartitionChangeBuilder): from
// the ISR, replicas and adding/removing replicas a change wants, it completes a reassignment
// whose replicas are all in sync, elects a leader where the current one no longer qualifies,
// and writes only the fields that differ.
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "config/settings.h"
#include "controller/controller.h"
#include "runtime/clock.h"

namespace kb::controller {

namespace {

constexpr int32_t kNoLeaderChange = -2;  // PartitionChangeRecord.leader: unchanged

bool contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string ids_text(const std::vector<int32_t>& ids) { return fmt::format("[{}]", fmt::join(ids, ",")); }

metadata::PartitionChangeRecord change_of(const TopicInfo& t, const PartitionInfo& p) {
  metadata::PartitionChangeRecord r;
  r.topic_id = t.id;
  r.partition_id = p.partition;
  r.leader = kNoLeaderChange;
  return r;
}

std::vector<int32_t> without(const std::vector<int32_t>& v, const std::vector<int32_t>& drop) {
  std::vector<int32_t> out;
  for (int32_t x : v)
    if (!contains(drop, x)) out.push_back(x);
  return out;
}

bool contains_all(const std::vector<int32_t>& v, const std::vector<int32_t>& of) {
  return std::all_of(of.begin(), of.end(), [&](int32_t x) { return contains(v, x); });
}

// Kafka's Boolean.parseBoolean: "true" in any case, anything else is false.
bool is_true(std::string_view s) {
  constexpr std::string_view kTrue = "true";
  return s.size() == kTrue.size() && std::equal(s.begin(), s.end(), kTrue.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// unclean.leader.election.enable for topic `t`: its override, else the dynamic broker config
// (this node's, then the cluster-wide default), else the static broker config — the order of
// Kafka's ConfigurationControlManager. Read at every election, so turning it on for a topic
// takes effect at the next maintain().
bool unclean_enabled(const config::BrokerConfig& config, const MetadataImage& img, const TopicInfo& t) {
  static constexpr const char* kName = "unclean.leader.election.enable";
  if (auto it = t.configs.find(kName); it != t.configs.end()) return is_true(it->second);
  for (const std::string& resource : {std::to_string(config.node_id()), std::string()})
    if (const auto* c = img.broker_configs(resource))
      if (auto it = c->find(kName); it != c->end()) return is_true(it->second);
  return config.get_bool(kName);
}

// Kafka's PartitionChangeBuilder.Election: which leaders a change may pick.
enum class Election {
  kPreferred,  // the first replica when it is a live in-sync replica, else as kOnline
  kOnline,     // keep a live in-sync leader, else the first live in-sync replica
  kUnclean,    // as kOnline, else the first live replica outside the ISR (ISR = just it)
};

// What a change wants a partition to become; starts as the partition is.
struct PartitionTarget {
  explicit PartitionTarget(const PartitionInfo& p)
      : isr(p.isr), replicas(p.replicas), adding(p.adding_replicas), removing(p.removing_replicas) {}
  std::vector<int32_t> isr, replicas, adding, removing;
  Election election = Election::kOnline;
};

// Kafka's PartitionChangeBuilder.build, without eligible leader replicas and leader recovery
// state (kbroker keeps neither). `acceptable` says whether a broker may lead (live:
// registered, unfenced, not shutting down); a replica whose log dir is offline (`img`) may not
// either (Kafka's LeaderAcceptor). New replicas start in their broker's default dir. Nothing
// when nothing changes.
std::optional<metadata::PartitionChangeRecord> build_change(const MetadataImage& img, const TopicInfo& t,
                                                            const PartitionInfo& p, PartitionTarget target,
                                                            const std::function<bool(int32_t)>& live) {
  auto acceptable = [&](int32_t b) {
    const BrokerInfo* info = img.broker(b);
    return live(b) && info && info->has_online_dir(p.directory(b));
  };
  // A reassignment is complete once every replica it keeps or adds is in the ISR: the removed
  // ones leave the replicas and the ISR, and the reassignment's lists clear (Kafka's
  // PartitionReassignmentReplicas.maybeCompleteReassignment). It never leaves the ISR empty.
  if (!target.adding.empty() || !target.removing.empty()) {
    std::vector<int32_t> isr = without(target.isr, target.removing);
    std::vector<int32_t> replicas = without(target.replicas, target.removing);
    if (!isr.empty() && !replicas.empty() && contains_all(isr, replicas)) {
      target.isr = std::move(isr);
      target.replicas = std::move(replicas);
      target.adding.clear();
      target.removing.clear();
    }
  }
  auto r = change_of(t, p);
  auto valid = [&](int32_t b) { return b >= 0 && contains(target.isr, b) && acceptable(b); };
  int32_t leader = -1;
  bool unclean = false;
  if (target.election == Election::kPreferred && !target.replicas.empty() && valid(target.replicas.front())) {
    leader = target.replicas.front();
  } else if (valid(p.leader)) {
    leader = p.leader;
  } else {
    for (int32_t b : target.replicas)
      if (valid(b)) {
        leader = b;
        break;
      }
    if (leader < 0 && target.election == Election::kUnclean)
      for (int32_t b : target.replicas)
        if (acceptable(b)) {
          leader = b;
          unclean = true;
          break;
        }
  }
  if (leader != p.leader) {
    r.leader = leader;
    // An unclean leader's log is the truth from now on: it is the whole ISR. Records the
    // others acknowledged beyond its log end are lost (what the setting's name warns of).
    if (unclean) r.isr = std::vector<int32_t>{leader};
  }
  // A replica that leaves the replica set must see a new leader epoch, so that its fetches
  // are fenced (Kafka's triggerLeaderEpochBumpForReplicaReassignmentIfNeeded).
  if (r.leader == kNoLeaderChange && !contains_all(target.replicas, p.replicas)) r.leader = p.leader;
  // An empty target ISR is never written: the last in-sync replica stays, the one a clean
  // election can wait for.
  if (!r.isr && !target.isr.empty() && target.isr != p.isr) r.isr = target.isr;
  if (!target.replicas.empty() && target.replicas != p.replicas) {
    r.replicas = target.replicas;
    r.directories.emplace();
    for (int32_t b : target.replicas)
      r.directories->push_back(contains(p.replicas, b) ? p.directory(b) : img.default_dir(b));
  }
  if (target.removing != p.removing_replicas) r.removing_replicas = target.removing;
  if (target.adding != p.adding_replicas) r.adding_replicas = target.adding;
  if (!r.isr && !r.replicas && !r.removing_replicas && !r.adding_replicas && r.leader == kNoLeaderChange)
    return std::nullopt;
  return r;
}

// One log line per partition change: what moved, and why.
void log_change(const TopicInfo& t, const PartitionInfo& p, const metadata::PartitionChangeRecord& r,
                std::string_view why) {
  std::string what;
  if (r.leader != kNoLeaderChange && r.leader != p.leader)
    what += fmt::format(" leader {} -> {},", p.leader, r.leader);
  if (r.isr) what += fmt::format(" ISR {} -> {},", ids_text(p.isr), ids_text(*r.isr));
  if (r.replicas) what += fmt::format(" replicas {} -> {},", ids_text(p.replicas), ids_text(*r.replicas));
  if (r.adding_replicas || r.removing_replicas) {
    const auto& adding = r.adding_replicas ? *r.adding_replicas : p.adding_replicas;
    const auto& removing = r.removing_replicas ? *r.removing_replicas : p.removing_replicas;
    what += adding.empty() && removing.empty()
                ? std::string(" reassignment done,")
                : fmt::format(" reassigning (adding {}, removing {}),", ids_text(adding), ids_text(removing));
  }
  if (what.empty()) what = " new leader epoch,";
  what.pop_back();
  bool unclean = r.leader >= 0 && r.leader != p.leader && !contains(p.isr, r.leader);
  if (unclean)
    spdlog::warn("partition {}-{}:{} (unclean election: {}; records only the old ISR had are lost)", t.name,
                 p.partition, what, why);
  else
    spdlog::info("partition {}-{}:{} ({})", t.name, p.partition, what, why);
}

constexpr const char* kExcessiveBatch = "Unable to perform excessively large batch operation.";

}  // namespace

void Controller::note_change(const TopicInfo& t, const PartitionInfo& p, const metadata::PartitionChangeRecord& r,
                             std::string_view why) const {
  log_change(t, p, r, why);
  if (r.leader < 0 || r.leader == p.leader) return;
  leader_elections_.fetch_add(1, std::memory_order_relaxed);
  if (!contains(p.isr, r.leader)) unclean_elections_.fetch_add(1, std::memory_order_relaxed);
}

bool Controller::eligible(const MetadataImage& img, int32_t broker) const {
  const BrokerInfo* b = img.broker(broker);
  return b && !b->fenced && !b->in_controlled_shutdown;
}

std::vector<MetadataRecord> Controller::evacuate(const MetadataImage& img, int32_t id, const PartitionFilter& only,
                                                 const std::string& why) const {
  std::vector<MetadataRecord> records;
  // The broker may still look live in `img` (a controlled shutdown or a new incarnation is
  // fenced in the same batch): it may not lead.
  auto acceptable = [&](int32_t b) { return b != id && eligible(img, b); };
  for (const TopicInfo* t : img.topics()) {
    std::optional<bool> unclean;  // the topic's setting, looked up when a partition needs it
    for (const PartitionInfo& p : t->partitions) {
      if (p.leader != id && !contains(p.isr, id)) continue;
      if (only && !only(*t, p)) continue;
      PartitionTarget target(p);
      target.isr = without(p.isr, {id});
      if (!unclean) unclean = unclean_enabled(config_, img, *t);
      target.election = *unclean ? Election::kUnclean : Election::kOnline;
      auto r = build_change(img, *t, p, std::move(target), acceptable);
      if (!r) continue;
      if (r->leader != kNoLeaderChange || r->replicas)
        note_change(*t, p, *r, why.empty() ? fmt::format("broker {} leaves", id) : why);
      records.push_back(std::move(*r));
    }
  }
  return records;
}

std::vector<MetadataRecord> Controller::elect_leaders(const MetadataImage& img, bool preferred) const {
  std::vector<MetadataRecord> records;
  auto live = [&](int32_t b) { return eligible(img, b); };
  for (const TopicInfo* t : img.topics()) {
    for (const PartitionInfo& p : t->partitions) {
      if (p.leader >= 0 && !preferred) continue;
      PartitionTarget target(p);
      // A leaderless partition takes a live in-sync replica, or with
      // unclean.leader.election.enable any live replica (Kafka's maybeElectUncleanLeaders).
      if (p.leader < 0)
        target.election = unclean_enabled(config_, img, *t) ? Election::kUnclean : Election::kOnline;
      else
        target.election = Election::kPreferred;
      auto r = build_change(img, *t, p, std::move(target), live);
      if (!r || r->leader < 0 || r->leader == p.leader) continue;
      note_change(*t, p, *r, p.leader < 0 ? "leaderless partition" : "preferred replica election");
      records.push_back(std::move(*r));
    }
  }
  return records;
}

std::vector<MetadataRecord> Controller::dirs_offline(const MetadataImage& img, const BrokerInfo& b,
                                                     const std::vector<Uuid>& offline) const {
  std::vector<Uuid> gone, remaining;
  for (const Uuid& d : b.log_dirs) {
    if (d == kDirLost) continue;
    (std::find(offline.begin(), offline.end(), d) != offline.end() ? gone : remaining).push_back(d);
  }
  if (gone.empty()) return {};
  // With no dir left, the replicas not placed in a known dir (created before directories were
  // tracked) were in one of those that failed, too.
  auto in_gone = [&](const TopicInfo&, const PartitionInfo& p) {
    Uuid d = p.directory(b.id);
    return std::find(gone.begin(), gone.end(), d) != gone.end() ||
           (remaining.empty() && (d == kDirUnassigned || d == kDirMigrating));
  };
  std::vector<std::string> remaining_text;
  for (const Uuid& d : remaining) remaining_text.push_back(d.to_string());
  for (const Uuid& d : gone) {
    size_t replicas = 0;
    for (const TopicInfo* t : img.topics())
      for (const PartitionInfo& p : t->partitions)
        if (contains(p.replicas, b.id) && (p.directory(b.id) == d || (remaining.empty() && in_gone(*t, p)))) ++replicas;
    spdlog::warn("log dir {} of broker {} is offline: its {} replica(s) there leave their ISRs and leaderships "
                 "(remaining dirs: [{}])",
                 d.to_string(), b.id, replicas, fmt::join(remaining_text, ","));
  }
  std::vector<MetadataRecord> records =
      evacuate(img, b.id, in_gone, fmt::format("log dir offline on broker {}", b.id));
  metadata::BrokerRegistrationChangeRecord change;
  change.broker_id = b.id;
  change.broker_epoch = b.epoch;
  // An empty list means "unchanged" in this record: no dir left is said with LOST alone.
  change.log_dirs = remaining.empty() ? std::vector<Uuid>{kDirLost} : remaining;
  records.push_back(std::move(change));
  return records;
}

Result<std::vector<ErrorCode>> Controller::assign_replicas_to_dirs(int32_t broker_id, int64_t broker_epoch,
                                                                   const std::vector<DirAssignment>& assignments) {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_.error();
  if (!active_.load()) return Error{ErrorCode::NOT_CONTROLLER, kNotControllerMessage};
  auto img = image();
  const BrokerInfo* b = img->broker(broker_id);
  if (!b || b->epoch != broker_epoch)
    return Error{ErrorCode::STALE_BROKER_EPOCH, "broker " + std::to_string(broker_id) + " epoch " +
                                                    std::to_string(broker_epoch) + " is not current"};
  MetadataImage work(*img);
  std::vector<MetadataRecord> records;
  std::vector<ErrorCode> results;
  size_t moved = 0;
  for (const DirAssignment& a : assignments) {
    const TopicInfo* t = work.topic(a.topic_id);
    if (!t) {
      results.push_back(ErrorCode::UNKNOWN_TOPIC_ID);
      continue;
    }
    if (a.partition < 0 || a.partition >= static_cast<int32_t>(t->partitions.size())) {
      results.push_back(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
      continue;
    }
    const PartitionInfo& p = t->partitions[static_cast<size_t>(a.partition)];
    if (!contains(p.replicas, broker_id)) {
      results.push_back(ErrorCode::NOT_LEADER_OR_FOLLOWER);
      continue;
    }
    results.push_back(ErrorCode::NONE);
    if (p.directory(broker_id) == a.dir) continue;
    auto r = change_of(*t, p);
    r.directories.emplace();
    for (int32_t replica : p.replicas) r.directories->push_back(replica == broker_id ? a.dir : p.directory(replica));
    ++moved;
    // t and p point into `work`, which this apply may copy: not used after it.
    (void)work.apply(r);
    records.push_back(std::move(r));
    // A replica in a dir the controller knows offline serves nothing (Kafka does the same).
    if (!b->has_online_dir(a.dir)) {
      const Uuid topic_id = a.topic_id;
      const int32_t partition = a.partition;
      auto out = evacuate(
          work, broker_id,
          [&](const TopicInfo& qt, const PartitionInfo& q) { return qt.id == topic_id && q.partition == partition; },
          fmt::format("replica on broker {} placed in an offline log dir", broker_id));
      for (auto& rec : out) {
        (void)work.apply(rec);
        records.push_back(std::move(rec));
      }
    }
  }
  if (records.size() > kMaxRecordsPerRequest) return Error{ErrorCode::POLICY_VIOLATION, kExcessiveBatch};
  if (auto s = commit(std::move(records)); !s.ok()) return s.error();
  if (moved > 0) spdlog::info("broker {} placed {} replica(s) in its log dirs", broker_id, moved);
  return results;
}

Result<int64_t> Controller::register_broker(const BrokerRegistration& reg) {
  std::lock_guard lk(mu_);
  if (!active_.load()) return Error{ErrorCode::NOT_CONTROLLER, kNotControllerMessage};
  if (reg.endpoints.size() != reg.security_protocols.size() || reg.id < 0)
    return Error{ErrorCode::INVALID_REQUEST, "malformed broker registration"};
  auto img = image();
  const BrokerInfo* existing = img->broker(reg.id);
  int64_t now = runtime::now_ms();
  if (existing && existing->incarnation_id == reg.incarnation_id) {
    last_heartbeat_ms_[reg.id] = now;
    return existing->epoch;  // a retried registration of the same process
  }
  std::vector<MetadataRecord> records;
  if (img->features().empty()) {
    records.push_back(bootstrap_feature_record());
    for (auto& r : bootstrap_scram_records()) records.push_back(std::move(r));
  }
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
  r.log_dirs = reg.log_dirs;
  std::sort(r.log_dirs.begin(), r.log_dirs.end());
  r.log_dirs.erase(std::unique(r.log_dirs.begin(), r.log_dirs.end()), r.log_dirs.end());
  r.fenced = true;  // unfenced by a heartbeat once it has caught up with the metadata log
  records.push_back(std::move(r));
  if (auto s = commit(std::move(records)); !s.ok()) return s.error();
  last_heartbeat_ms_[reg.id] = now;
  spdlog::info("broker {} registered with epoch {} ({})", reg.id, epoch,
               existing ? "a new incarnation: restarted" : "first registration");
  return epoch;
}

HeartbeatResult Controller::heartbeat(int32_t id, int64_t epoch, int64_t metadata_offset, bool want_fence,
                                      bool want_shut_down, const std::vector<Uuid>& offline_log_dirs) {
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
  last_heartbeat_ms_[id] = runtime::now_ms();
  if (!offline_log_dirs.empty()) {
    if (auto records = dirs_offline(*img, *b, offline_log_dirs); !records.empty()) {
      if (auto s = commit(std::move(records)); !s.ok()) {
        out.error = s.code();
        return out;
      }
      img = image();
      b = img->broker(id);
    }
  }
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
               std::any_of(c.new_isr.begin(), c.new_isr.end(),
                           [&](int32_t r) { return !contains(p.replicas, r); })) {
      res.error = ErrorCode::INVALID_REQUEST;
    } else if (std::any_of(c.new_isr.begin(), c.new_isr.end(),
                           [&](int32_t r) {
                             const BrokerInfo* rb = img->broker(r);
                             return !contains(p.isr, r) &&
                                    (!eligible(*img, r) || !rb->has_online_dir(p.directory(r)));
                           })) {
      // Only live brokers may join the ISR, and only with the replica's log dir online.
      res.error = ErrorCode::INELIGIBLE_REPLICA;
    }
    if (res.error != ErrorCode::NONE) continue;
    PartitionTarget target(p);
    target.isr = c.new_isr;
    target.election = unclean_enabled(config_, *img, *t) ? Election::kUnclean : Election::kOnline;
    // An ISR that now holds every replica a reassignment adds completes it in the same record.
    auto r = build_change(*img, *t, p, std::move(target), [&](int32_t b) { return eligible(*img, b); });
    if (!r) continue;
    note_change(*t, p, *r, fmt::format("asked by leader {}", broker_id));
    records.push_back(std::move(*r));
    changed.push_back(results.size() - 1);
  }
  if (!records.empty()) {
    if (auto s = commit(std::move(records)); !s.ok()) return s.error();
    auto now = image();
    for (size_t i : changed) {
      const PartitionInfo* p = nullptr;
      if (const TopicInfo* t = now->topic(changes[i].topic_id))
        p = &t->partitions[static_cast<size_t>(changes[i].partition)];
      if (!p) continue;
      IsrChangeResult& res = results[i];
      res.leader = p->leader;
      res.leader_epoch = p->leader_epoch;
      res.partition_epoch = p->partition_epoch;
      res.isr = p->isr;
      // A completed reassignment that took the leadership away: the change is made, and the
      // old leader must learn the new state from the metadata before asking again (Kafka
      // answers NEW_LEADER_ELECTED, or FENCED_LEADER_EPOCH to AlterPartition v0-1).
      if (p->leader != broker_id) res.error = ErrorCode::NEW_LEADER_ELECTED;
    }
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
  const int64_t session_ms = config_.settings().broker_session_timeout_ms;
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
  if (config_.settings().auto_leader_rebalance_enable) {
    int64_t interval = config_.settings().leader_imbalance_check_interval_seconds * 1000;
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

// ---- ElectLeaders and partition reassignments ----

Result<std::vector<PartitionResult>> Controller::elect_partition_leaders(
    ElectionType type, const std::optional<std::vector<PartitionSelection>>& selection) {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_.error();
  if (!active_.load()) return Error{ErrorCode::NOT_CONTROLLER, kNotControllerMessage};
  if (type != ElectionType::kPreferred && type != ElectionType::kUnclean)
    return Error{ErrorCode::INVALID_REQUEST,
                 "Unknown election type " + std::to_string(static_cast<int>(type))};
  auto img = image();
  // Each election sees the ones before it (a partition named twice is elected once).
  MetadataImage work(*img);
  std::vector<MetadataRecord> records;
  auto elect = [&](const std::string& topic, int32_t partition) {
    PartitionResult res{topic, partition, ErrorCode::NONE, {}};
    const TopicInfo* t = work.topic(topic);
    if (!t) {
      res.error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      res.message = "No such topic as " + topic;
      return res;
    }
    const PartitionInfo* p = work.partition(topic, partition);
    if (!p) {
      res.error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
      res.message = "No such partition as " + topic + "-" + std::to_string(partition);
      return res;
    }
    const bool preferred = type == ElectionType::kPreferred;
    if ((preferred && !p->replicas.empty() && p->leader == p->replicas.front()) ||
        (!preferred && p->leader >= 0)) {
      res.error = ErrorCode::ELECTION_NOT_NEEDED;
      res.message = "Leader election not needed for topic partition.";
      return res;
    }
    PartitionTarget target(*p);
    target.election = preferred ? Election::kPreferred : Election::kUnclean;
    auto r = build_change(work, *t, *p, std::move(target), [&](int32_t b) { return eligible(work, b); });
    if (!r) {
      res.error =
          preferred ? ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE : ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE;
      res.message = preferred ? "The preferred leader was not available."
                              : "Eligible topic partition leaders are not available.";
      return res;
    }
    note_change(*t, *p, *r, preferred ? "ElectLeaders PREFERRED" : "ElectLeaders UNCLEAN");
    // t and p point into `work`, which this apply may copy: not used after it.
    (void)work.apply(*r);
    records.push_back(std::move(*r));
    return res;
  };
  std::vector<PartitionResult> results;
  if (!selection) {
    // Every partition; those already as wanted are left out of the answer, as in Kafka.
    for (const TopicInfo* t : img->topics())
      for (const PartitionInfo& p : t->partitions) {
        PartitionResult res = elect(t->name, p.partition);
        if (res.error != ErrorCode::ELECTION_NOT_NEEDED) results.push_back(std::move(res));
      }
  } else {
    for (const auto& s : *selection)
      for (int32_t partition : s.partitions) results.push_back(elect(s.topic, partition));
  }
  if (records.size() > kMaxRecordsPerRequest) return Error{ErrorCode::POLICY_VIOLATION, kExcessiveBatch};
  if (auto s = commit(std::move(records)); !s.ok()) return s.error();
  return results;
}

Result<std::vector<PartitionResult>> Controller::alter_partition_reassignments(
    const std::vector<ReassignmentTarget>& targets) {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_.error();
  if (!active_.load()) return Error{ErrorCode::NOT_CONTROLLER, kNotControllerMessage};
  auto img = image();
  // Each target sees the ones before it (a partition named twice ends as the last one says).
  MetadataImage work(*img);
  std::vector<MetadataRecord> records;
  auto reassign = [&](const ReassignmentTarget& target) -> Status {
    const TopicInfo* t = work.topic(target.topic);
    if (!t)
      return Status(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    "Unable to find a topic named " + target.topic + ".");
    const PartitionInfo* p = work.partition(target.topic, target.partition);
    if (!p)
      return Status(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition " + target.topic + ":" +
                                                               std::to_string(target.partition) + ".");
    const bool in_progress = !p->adding_replicas.empty() || !p->removing_replicas.empty();
    auto live = [&](int32_t b) { return eligible(work, b); };
    std::optional<metadata::PartitionChangeRecord> r;
    if (!target.replicas) {
      // Cancel: back to the replicas before the reassignment (Kafka's PartitionReassignmentRevert).
      if (!in_progress)
        return Status(ErrorCode::NO_REASSIGNMENT_IN_PROGRESS, "No partition reassignment is in progress.");
      PartitionTarget revert(*p);
      revert.replicas = without(p->replicas, p->adding_replicas);
      revert.isr = without(p->isr, p->adding_replicas);
      revert.adding.clear();
      revert.removing.clear();
      const bool unclean = unclean_enabled(config_, work, *t);
      if (revert.isr.empty()) {
        // Only added replicas are in sync: going back means electing one that is not.
        if (!unclean)
          return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        "Unable to revert partition assignment for " + target.topic + ":" +
                            std::to_string(target.partition) +
                            " because it would require an unclean leader election.");
        revert.isr = {revert.replicas.front()};
      }
      revert.election = unclean ? Election::kUnclean : Election::kOnline;
      r = build_change(work, *t, *p, std::move(revert), live);
    } else {
      const std::vector<int32_t>& want = *target.replicas;
      const std::string prefix = "The manual partition assignment includes ";
      if (want.empty())
        return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT, prefix + "an empty replica list.");
      std::vector<int32_t> sorted_ids = want;
      std::sort(sorted_ids.begin(), sorted_ids.end());
      for (size_t i = 0; i < sorted_ids.size(); ++i) {
        if (!work.broker(sorted_ids[i]))
          return Status(
              ErrorCode::INVALID_REPLICA_ASSIGNMENT,
              prefix + "broker " + std::to_string(sorted_ids[i]) + ", but no such broker is registered.");
        if (i > 0 && sorted_ids[i] == sorted_ids[i - 1])
          return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        prefix + "the broker " + std::to_string(sorted_ids[i]) + " more than once.");
      }
      // KIP-455: the replicas are the target followed by those being removed; the new ones
      // follow until they are in sync, and the removed ones stay until then.
      std::set<int32_t> removing, adding;
      for (int32_t b : p->replicas)
        if (!contains(want, b)) removing.insert(b);
      for (int32_t b : want)
        if (!contains(p->replicas, b)) adding.insert(b);
      PartitionTarget change(*p);
      change.replicas = want;
      change.replicas.insert(change.replicas.end(), removing.begin(), removing.end());
      // As in Kafka, a target that adds (or removes) nothing keeps what an ongoing
      // reassignment still adds (or removes).
      if (!removing.empty()) change.removing.assign(removing.begin(), removing.end());
      if (!adding.empty()) change.adding.assign(adding.begin(), adding.end());
      r = build_change(work, *t, *p, std::move(change), live);
    }
    if (!r) return {};
    note_change(*t, *p, *r, target.replicas ? "AlterPartitionReassignments" : "reassignment cancelled");
    // t and p point into `work`, which this apply may copy: not used after it.
    (void)work.apply(*r);
    records.push_back(std::move(*r));
    return {};
  };
  std::vector<PartitionResult> results;
  for (const auto& target : targets) {
    Status s = reassign(target);
    PartitionResult& res = results.emplace_back();
    res.topic = target.topic;
    res.partition = target.partition;
    res.error = s.code();
    if (!s.ok()) {
      res.message = s.error().message;
      spdlog::info("reassignment of {}-{} refused: {} {}", target.topic, target.partition,
                   error_name(s.code()), s.error().message);
    }
  }
  if (records.size() > kMaxRecordsPerRequest) return Error{ErrorCode::POLICY_VIOLATION, kExcessiveBatch};
  if (auto s = commit(std::move(records)); !s.ok()) return s.error();
  return results;
}

std::vector<OngoingReassignment> Controller::list_partition_reassignments(
    const std::optional<std::vector<PartitionSelection>>& selection) const {
  auto img = image();
  std::vector<OngoingReassignment> out;
  auto add = [&](const TopicInfo& t, int32_t partition) {
    if (partition < 0 || partition >= static_cast<int32_t>(t.partitions.size())) return;
    const PartitionInfo& p = t.partitions[static_cast<size_t>(partition)];
    if (p.adding_replicas.empty() && p.removing_replicas.empty()) return;
    out.push_back({t.name, p.partition, p.replicas, p.adding_replicas, p.removing_replicas});
  };
  if (!selection) {
    for (const TopicInfo* t : img->topics())
      for (const PartitionInfo& p : t->partitions) add(*t, p.partition);
    return out;
  }
  for (const auto& s : *selection)
    if (const TopicInfo* t = img->topic(s.topic))
      for (int32_t partition : s.partitions) add(*t, partition);
  return out;
}

}  // namespace kb::controller
