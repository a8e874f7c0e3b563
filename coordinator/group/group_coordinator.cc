#include "coordinator/group/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <set>

#include "coordinator/group/group_records.h"
#include "protocol/wire.h"

namespace kb::coordinator {

namespace {

using JoinResp = msg::JoinGroupResponse;
using SyncResp = msg::SyncGroupResponse;
using Described = msg::DescribeGroupsResponse::DescribedGroup;

JoinResp join_error(ErrorCode code, const std::string& member_id = "") {
  JoinResp r;
  r.error_code = to_wire(code);
  r.generation_id = -1;
  r.protocol_name = std::string();
  r.member_id = member_id;
  return r;
}

SyncResp sync_error(ErrorCode code) {
  SyncResp r;
  r.error_code = to_wire(code);
  return r;
}

std::vector<Protocol> protocols_of(const msg::JoinGroupRequest& req) {
  std::vector<Protocol> out;
  for (const auto& p : req.protocols) out.push_back({p.name, p.metadata});
  return out;
}

// How Kafka answers an offset commit whose append failed (GroupMetadataManager.storeOffsets).
ErrorCode commit_error_for(ErrorCode append_error) {
  switch (append_error) {
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
    case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode::REQUEST_TIMED_OUT:
      return ErrorCode::COORDINATOR_NOT_AVAILABLE;
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::KAFKA_STORAGE_ERROR:
    case ErrorCode::NOT_COORDINATOR:
      return ErrorCode::NOT_COORDINATOR;
    case ErrorCode::MESSAGE_TOO_LARGE:
    case ErrorCode::RECORD_LIST_TOO_LARGE:
    case ErrorCode::INVALID_FETCH_SIZE:
      return ErrorCode::INVALID_COMMIT_OFFSET_SIZE;
    default:
      return append_error;
  }
}

// A member id is the client id (or group.instance.id) and a random suffix, as in Kafka; the
// prefix is cut so the id still fits a Kafka string (a 32767-byte client id is legal).
std::string new_member_id(const std::string& client_id, const std::optional<std::string>& instance_id) {
  const std::string uuid = Uuid::random().to_string();
  std::string id(wire::utf8_prefix(instance_id ? *instance_id : client_id, wire::kMaxStringBytes - 1 - uuid.size()));
  id += '-';
  id += uuid;
  return id;
}

enum class PartitionState { Loading, Owned };

}  // namespace

namespace {

// An OffsetCommit or TxnOffsetCommit answer shaped like its request.
template <class Response, class Request>
Response shaped_commit_response(const Request& req, const std::function<int16_t(const std::string&, int32_t)>& code) {
  Response resp;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      rp.error_code = code(t.name, p.partition_index);
    }
  }
  return resp;
}

}  // namespace

msg::OffsetCommitResponse commit_response(const msg::OffsetCommitRequest& req,
                                          const std::function<int16_t(const std::string&, int32_t)>& code) {
  return shaped_commit_response<msg::OffsetCommitResponse>(req, code);
}

msg::TxnOffsetCommitResponse txn_commit_response(const msg::TxnOffsetCommitRequest& req,
                                                 const std::function<int16_t(const std::string&, int32_t)>& code) {
  return shaped_commit_response<msg::TxnOffsetCommitResponse>(req, code);
}

struct GroupCoordinator::Impl : std::enable_shared_from_this<Impl> {
  Impl(GroupConfig c, runtime::EventLoop& l, GroupLog& g) : config(c), loop(l), log(g) {}

  GroupConfig config;
  runtime::EventLoop& loop;
  GroupLog& log;
  int32_t partition_count = 0;
  std::map<int32_t, PartitionState> partitions;
  std::map<std::string, std::unique_ptr<Group>> groups;
  std::shared_ptr<runtime::Timer> expiry_timer;
  bool stopped = false;

  // ---- ownership --------------------------------------------------------------------------

  // Whether this broker coordinates `group_id` now: NONE, NOT_COORDINATOR or
  // COORDINATOR_LOAD_IN_PROGRESS.
  ErrorCode coordinator_error(const std::string& group_id) const {
    if (stopped || partition_count <= 0) return ErrorCode::NOT_COORDINATOR;
    auto it = partitions.find(partition_for(group_id, partition_count));
    if (it == partitions.end()) return ErrorCode::NOT_COORDINATOR;
    return it->second == PartitionState::Loading ? ErrorCode::COORDINATOR_LOAD_IN_PROGRESS : ErrorCode::NONE;
  }

  Group* find(const std::string& group_id) {
    auto it = groups.find(group_id);
    return it == groups.end() ? nullptr : it->second.get();
  }

  Group& get_or_create(const std::string& group_id) {
    auto& slot = groups[group_id];
    if (!slot) {
      slot = std::make_unique<Group>();
      slot->id = group_id;
      slot->partition = partition_for(group_id, partition_count);
      slot->state_timestamp = loop.now_ms();
    }
    return *slot;
  }

  void set_state(Group& g, GroupState s) {
    g.state = s;
    g.state_timestamp = loop.now_ms();
  }

  void became_leader(int32_t partition, int32_t count) {
    if (stopped) return;
    partition_count = count;
    if (partitions.count(partition)) return;
    partitions[partition] = PartitionState::Loading;
    // Loading is its own task: requests queued before it are answered
    // COORDINATOR_LOAD_IN_PROGRESS rather than waiting behind the replay.
    auto self = shared_from_this();
    loop.post([self, partition] { self->load(partition); });
    if (!expiry_timer) schedule_expiry();
  }

  void load(int32_t partition) {
    auto it = partitions.find(partition);
    if (stopped || it == partitions.end() || it->second != PartitionState::Loading) return;
    std::map<std::string, std::unique_ptr<Group>> loaded;
    auto group_slot = [&](const std::string& id) -> Group& {
      auto& slot = loaded[id];
      if (!slot) {
        slot = std::make_unique<Group>();
        slot->id = id;
        slot->partition = partition;
        slot->state_timestamp = loop.now_ms();
      }
      return *slot;
    };
    int64_t records = 0;
    // Offsets of transactions whose marker has not been read yet: producer id -> group ->
    // partition (Kafka's loader: a COMMIT marker makes them committed unless a later plain
    // commit of the partition was read, an ABORT drops them; the rest stay pending).
    std::map<int64_t, std::map<std::string, std::map<TopicPartition, CommittedOffset>>> open_txns;
    auto st = log.replay(partition, [&](const StoredGroupRecord& r) {
      if (r.marker != TxnMarker::None) {
        auto txn = open_txns.find(r.txn_producer_id);
        if (txn == open_txns.end()) return;
        if (r.marker == TxnMarker::Commit)
          for (auto& [gid, offsets] : txn->second) {
            Group& g = group_slot(gid);
            g.pending_txn_offsets[r.txn_producer_id] = std::move(offsets);
            g.complete_txn(r.txn_producer_id, true);
          }
        open_txns.erase(txn);
        return;
      }
      if (!r.key) return;
      auto key = decode_key(*r.key);
      if (!key) return;
      ++records;
      if (auto* ok = std::get_if<rec::OffsetCommitKey>(&*key)) {
        TopicPartition tp{ok->topic, ok->partition};
        const bool txn = r.txn_producer_id >= 0;
        if (!r.value) {
          if (txn) {
            if (auto t = open_txns.find(r.txn_producer_id); t != open_txns.end())
              if (auto g = t->second.find(ok->group); g != t->second.end()) g->second.erase(tp);
          } else if (auto g = loaded.find(ok->group); g != loaded.end()) {
            g->second->offsets.erase(tp);
          }
          return;
        }
        auto v = decode_offset_value(*r.value);
        if (!v) return;
        CommittedOffset c{v->offset, v->leader_epoch, v->metadata, v->commit_timestamp, v->expire_timestamp, r.offset};
        if (txn)
          open_txns[r.txn_producer_id][ok->group][tp] = std::move(c);
        else
          group_slot(ok->group).offsets[tp] = std::move(c);
      } else {
        const auto& gk = std::get<rec::GroupMetadataKey>(*key);
        if (!r.value) {
          // The group is gone; offsets committed after the tombstone start a new one.
          if (auto g = loaded.find(gk.group); g != loaded.end()) {
            g->second->members.clear();
            g->second->static_members.clear();
            g->second->generation = 0;
            g->second->protocol_type.clear();
            g->second->protocol.reset();
            g->second->leader.reset();
          }
          return;
        }
        auto v = decode_group_value(*r.value);
        if (!v) return;
        Group& g = group_slot(gk.group);
        g.generation = v->generation;
        g.protocol_type = v->protocol_type;
        g.protocol = v->protocol;
        g.leader = v->leader;
        if (v->current_state_timestamp >= 0) g.state_timestamp = v->current_state_timestamp;
        g.members.clear();
        g.static_members.clear();
        for (const auto& mm : v->members) {
          Member m;
          m.id = mm.member_id;
          m.instance_id = mm.group_instance_id;
          m.client_id = mm.client_id;
          m.client_host = mm.client_host;
          m.session_timeout_ms = mm.session_timeout;
          m.rebalance_timeout_ms = mm.rebalance_timeout >= 0 ? mm.rebalance_timeout : mm.session_timeout;
          if (g.protocol) m.protocols.push_back({*g.protocol, mm.subscription});
          m.assignment = mm.assignment;
          m.join_order = g.next_join_order++;
          if (m.instance_id) g.static_members[*m.instance_id] = m.id;
          g.members.emplace(m.id, std::move(m));
        }
      }
    });
    if (!st.ok()) {
      // Serving groups from a partial replay would hand out wrong offsets: stay not the
      // coordinator of this partition (clients retry FindCoordinator) and say why.
      spdlog::error("cannot load groups of __consumer_offsets-{}: {}", partition, st.error().message);
      partitions.erase(partition);
      return;
    }
    for (auto& [producer, by_group] : open_txns)
      for (auto& [gid, offsets] : by_group)
        if (!offsets.empty()) group_slot(gid).pending_txn_offsets[producer] = std::move(offsets);
    size_t count = 0;
    for (auto& [id, g] : loaded) {
      if (g->members.empty() && g->offsets.empty() && g->pending_txn_offsets.empty() && g->generation == 0) continue;
      set_state(*g, g->members.empty() ? GroupState::Empty : GroupState::Stable);
      if (!g->members.empty()) {
        // Members must heartbeat to this coordinator within their session timeout, as after
        // any coordinator move.
        for (auto& [mid, m] : g->members) schedule_session_timeout(*g, m);
      }
      groups[id] = std::move(g);
      ++count;
    }
    partitions[partition] = PartitionState::Owned;
    if (records > 0)
      spdlog::info("loaded {} groups from __consumer_offsets-{} ({} records)", count, partition, records);
  }

  void resigned(int32_t partition) {
    partitions.erase(partition);
    for (auto it = groups.begin(); it != groups.end();) {
      if (it->second->partition == partition) {
        drop(*it->second, ErrorCode::NOT_COORDINATOR);
        it = groups.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Answers whatever the group's members wait for with `code` and cancels its timers.
  void drop(Group& g, ErrorCode code) {
    for (auto& [id, m] : g.members) {
      if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_error(code, id));
      if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(code));
      if (m.session_timer) m.session_timer->cancel();
    }
    for (auto& [id, t] : g.pending_members) t->cancel();
    if (g.join_timer) g.join_timer->cancel();
    if (g.sync_timer) g.sync_timer->cancel();
  }

  void stop() {
    stopped = true;
    for (auto& [id, g] : groups) drop(*g, ErrorCode::NOT_COORDINATOR);
    groups.clear();
    partitions.clear();
    if (expiry_timer) expiry_timer->cancel();
  }

  // ---- timers -----------------------------------------------------------------------------

  void schedule_session_timeout(Group& g, Member& m) {
    if (m.session_timer) m.session_timer->cancel();
    std::weak_ptr<Impl> weak = shared_from_this();
    m.session_timer = loop.after_ms(m.session_timeout_ms, [weak, gid = g.id, mid = m.id] {
      if (auto self = weak.lock()) self->on_session_timeout(gid, mid);
    });
  }

  void on_session_timeout(const std::string& group_id, const std::string& member_id) {
    Group* g = find(group_id);
    if (!g) return;
    auto it = g->members.find(member_id);
    if (it == g->members.end()) return;
    Member& m = it->second;
    // A member waiting in JoinGroup or SyncGroup is alive: the rebalance and sync timeouts
    // decide about it.
    if (m.awaiting_join || m.awaiting_sync) {
      schedule_session_timeout(*g, m);
      return;
    }
    spdlog::info("group {}: member {} removed after its session timeout ({} ms) expired", g->id, member_id,
                 m.session_timeout_ms);
    remove_member_and_update(*g, member_id);
  }

  void schedule_pending_timeout(Group& g, const std::string& member_id, int32_t session_timeout_ms) {
    std::weak_ptr<Impl> weak = shared_from_this();
    g.pending_members[member_id] = loop.after_ms(session_timeout_ms, [weak, gid = g.id, member_id] {
      auto self = weak.lock();
      if (!self) return;
      Group* grp = self->find(gid);
      if (!grp || !grp->pending_members.erase(member_id)) return;
      if (grp->state == GroupState::PreparingRebalance) self->maybe_complete_join(*grp);
    });
  }

  // ---- rebalancing ------------------------------------------------------------------------

  bool can_rebalance(const Group& g) const {
    return g.state == GroupState::Stable || g.state == GroupState::CompletingRebalance ||
           g.state == GroupState::Empty;
  }

  void maybe_prepare_rebalance(Group& g, const std::string& reason) {
    if (can_rebalance(g)) prepare_rebalance(g, reason);
  }

  void prepare_rebalance(Group& g, const std::string& reason) {
    // Members waiting for the assignment of the generation being abandoned rejoin.
    if (g.state == GroupState::CompletingRebalance) reset_and_propagate_sync_error(g, ErrorCode::REBALANCE_IN_PROGRESS);
    if (g.sync_timer) g.sync_timer->cancel();
    g.awaiting_first_sync.clear();
    bool was_empty = g.state == GroupState::Empty;
    set_state(g, GroupState::PreparingRebalance);
    ++g.rebalances;
    spdlog::info("group {}: preparing to rebalance (generation {}): {}", g.id, g.generation, reason);
    if (g.join_timer) g.join_timer->cancel();
    std::weak_ptr<Impl> weak = shared_from_this();
    int32_t rebalance_timeout = g.max_rebalance_timeout_ms();
    if (was_empty && config.initial_rebalance_delay_ms > 0) {
      // A new group waits a little for more members, so the first assignment is not redone
      // at once when the others arrive (group.initial.rebalance.delay.ms, extended while
      // members keep joining, never past the rebalance timeout).
      int32_t delay = std::min(config.initial_rebalance_delay_ms, rebalance_timeout);
      g.initial_delay = true;
      g.joined_during_delay = false;
      g.initial_delay_remaining_ms = std::max(rebalance_timeout - delay, 0);
      g.join_timer = loop.after_ms(delay, [weak, gid = g.id] {
        if (auto self = weak.lock()) self->on_initial_delay(gid);
      });
      return;
    }
    g.initial_delay = false;
    g.join_timer = loop.after_ms(rebalance_timeout, [weak, gid = g.id] {
      if (auto self = weak.lock()) self->on_join_timeout(gid);
    });
    maybe_complete_join(g);
  }

  void on_initial_delay(const std::string& group_id) {
    Group* g = find(group_id);
    if (!g || g->state != GroupState::PreparingRebalance || !g->initial_delay) return;
    if (g->joined_during_delay && g->initial_delay_remaining_ms > 0) {
      int32_t delay = std::min(config.initial_rebalance_delay_ms, g->initial_delay_remaining_ms);
      g->initial_delay_remaining_ms = std::max(g->initial_delay_remaining_ms - delay, 0);
      g->joined_during_delay = false;
      std::weak_ptr<Impl> weak = shared_from_this();
      g->join_timer = loop.after_ms(delay, [weak, gid = g->id] {
        if (auto self = weak.lock()) self->on_initial_delay(gid);
      });
      return;
    }
    g->initial_delay = false;
    complete_join(*g);
  }

  void on_join_timeout(const std::string& group_id) {
    Group* g = find(group_id);
    if (!g || g->state != GroupState::PreparingRebalance) return;
    complete_join(*g);
  }

  void maybe_complete_join(Group& g) {
    if (g.state == GroupState::PreparingRebalance && !g.initial_delay && g.all_members_joined()) complete_join(g);
  }

  void complete_join(Group& g) {
    if (g.join_timer) g.join_timer->cancel();
    g.initial_delay = false;
    // Dynamic members that did not rejoin in time are out; static ones keep their place
    // (they may come back with the same group.instance.id).
    std::vector<std::string> gone;
    for (const auto& [id, m] : g.members)
      if (!m.awaiting_join && !m.instance_id) gone.push_back(id);
    for (const auto& id : gone) {
      spdlog::info("group {}: member {} removed: it did not rejoin within the rebalance timeout", g.id, id);
      remove_member(g, id);
    }
    if (!g.members.empty()) {
      // The leader must be a member that rejoined: only it gets the others' metadata.
      if (!g.leader || !g.members.at(*g.leader).awaiting_join) {
        g.leader.reset();
        for (const Member* m : g.members_in_join_order())
          if (m->awaiting_join) {
            g.leader = m->id;
            break;
          }
      }
      if (!g.leader) {
        // Only static members that have not rejoined remain: wait for them another round.
        std::weak_ptr<Impl> weak = shared_from_this();
        g.join_timer = loop.after_ms(g.max_rebalance_timeout_ms(), [weak, gid = g.id] {
          if (auto self = weak.lock()) self->on_join_timeout(gid);
        });
        return;
      }
    }
    ++g.generation;
    if (g.members.empty()) {
      g.protocol.reset();
      g.leader.reset();
      set_state(g, GroupState::Empty);
      spdlog::info("group {}: generation {} is empty", g.id, g.generation);
      store_group(g, {}, [gid = g.id](ErrorCode e) {
        // Nobody waits for this write; a reload would show the previous generation.
        if (e != ErrorCode::NONE) spdlog::warn("group {}: storing the empty generation failed: {}", gid, error_name(e));
      });
      return;
    }
    g.protocol = g.select_protocol();
    set_state(g, GroupState::CompletingRebalance);
    spdlog::info("group {}: generation {} with {} members, protocol {}, leader {}", g.id, g.generation,
                 g.members.size(), g.protocol.value_or(""), *g.leader);
    for (auto& [id, m] : g.members) {
      if (!m.awaiting_join) continue;
      JoinResp r = current_generation_response(g, m, g.is_leader(id));
      std::exchange(m.awaiting_join, nullptr)(std::move(r));
      g.awaiting_first_sync.insert(id);
      schedule_session_timeout(g, m);
    }
    std::weak_ptr<Impl> weak = shared_from_this();
    if (g.sync_timer) g.sync_timer->cancel();
    g.sync_timer = loop.after_ms(g.max_rebalance_timeout_ms(), [weak, gid = g.id, gen = g.generation] {
      if (auto self = weak.lock()) self->on_sync_timeout(gid, gen);
    });
  }

  JoinResp current_generation_response(const Group& g, const Member& m, bool with_members, bool skip_assignment = false) {
    JoinResp r;
    r.error_code = to_wire(ErrorCode::NONE);
    r.generation_id = g.generation;
    r.protocol_type = g.protocol_type;
    r.protocol_name = g.protocol.value_or("");
    r.leader = g.leader.value_or("");
    r.member_id = m.id;
    r.skip_assignment = skip_assignment;
    if (with_members) {
      for (const Member* other : g.members_in_join_order()) {
        JoinResp::JoinGroupResponseMember rm;
        rm.member_id = other->id;
        rm.group_instance_id = other->instance_id;
        if (const auto* meta = other->metadata_for(g.protocol.value_or(""))) rm.metadata = *meta;
        r.members.push_back(std::move(rm));
      }
    }
    return r;
  }

  void on_sync_timeout(const std::string& group_id, int32_t generation) {
    Group* g = find(group_id);
    if (!g || g->generation != generation || g->awaiting_first_sync.empty()) return;
    if (g->state != GroupState::CompletingRebalance && g->state != GroupState::Stable) return;
    std::vector<std::string> late(g->awaiting_first_sync.begin(), g->awaiting_first_sync.end());
    for (const auto& id : late) {
      spdlog::info("group {}: member {} removed: it did not sync within the rebalance timeout", g->id, id);
      remove_member(*g, id);
    }
    g->awaiting_first_sync.clear();
    prepare_rebalance(*g, "members did not sync in time");
  }

  void reset_and_propagate_sync_error(Group& g, ErrorCode code) {
    for (auto& [id, m] : g.members) {
      m.assignment.clear();
      if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(code));
    }
  }

  // Removes a member from the group's maps (nothing else): callers decide on the rebalance.
  void remove_member(Group& g, const std::string& member_id) {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return;
    Member& m = it->second;
    if (m.session_timer) m.session_timer->cancel();
    if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_error(ErrorCode::UNKNOWN_MEMBER_ID, member_id));
    if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
    if (m.instance_id) {
      auto s = g.static_members.find(*m.instance_id);
      if (s != g.static_members.end() && s->second == member_id) g.static_members.erase(s);
    }
    g.members.erase(it);
    g.awaiting_first_sync.erase(member_id);
    if (g.is_leader(member_id)) {
      g.leader.reset();
      auto ordered = g.members_in_join_order();
      if (!ordered.empty()) g.leader = ordered.front()->id;
    }
  }

  // A member left or expired: the others rebalance (Kafka's removeMemberAndUpdateGroup).
  void remove_member_and_update(Group& g, const std::string& member_id) {
    remove_member(g, member_id);
    switch (g.state) {
      case GroupState::Stable:
      case GroupState::CompletingRebalance:
        prepare_rebalance(g, "member " + member_id + " left");
        break;
      case GroupState::PreparingRebalance:
        maybe_complete_join(g);
        break;
      default:
        break;
    }
  }

  Member& add_member(Group& g, const std::string& member_id, const msg::JoinGroupRequest& req,
                     const ClientInfo& client, int32_t rebalance_timeout, JoinCallback done) {
    Member m;
    m.id = member_id;
    m.instance_id = req.group_instance_id;
    m.client_id = client.client_id;
    m.client_host = client.client_host;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = rebalance_timeout;
    m.protocols = protocols_of(req);
    m.join_order = g.next_join_order++;
    m.awaiting_join = std::move(done);
    m.supports_skip_assignment = client.api_version >= 9;
    if (g.members.empty()) g.protocol_type = req.protocol_type;
    if (!g.leader) g.leader = member_id;
    if (m.instance_id) g.static_members[*m.instance_id] = member_id;
    auto [it, inserted] = g.members.insert_or_assign(member_id, std::move(m));
    schedule_session_timeout(g, it->second);
    if (g.state == GroupState::PreparingRebalance && g.initial_delay) g.joined_during_delay = true;
    return it->second;
  }

  void add_member_and_rebalance(Group& g, const std::string& member_id, const msg::JoinGroupRequest& req,
                                const ClientInfo& client, int32_t rebalance_timeout, JoinCallback done) {
    add_member(g, member_id, req, client, rebalance_timeout, std::move(done));
    if (g.state == GroupState::PreparingRebalance)
      maybe_complete_join(g);
    else
      maybe_prepare_rebalance(g, "member " + member_id + " joined");
  }

  void update_member_and_rebalance(Group& g, Member& m, const msg::JoinGroupRequest& req, const ClientInfo& client,
                                   int32_t rebalance_timeout, JoinCallback done) {
    m.protocols = protocols_of(req);
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = rebalance_timeout;
    m.supports_skip_assignment = client.api_version >= 9;
    if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_error(ErrorCode::REBALANCE_IN_PROGRESS, m.id));
    m.awaiting_join = std::move(done);
    schedule_session_timeout(g, m);
    if (g.state == GroupState::PreparingRebalance)
      maybe_complete_join(g);
    else
      maybe_prepare_rebalance(g, "member " + m.id + " rejoined with new metadata or as leader");
  }

  bool accept_joining_member(const Group& g, const std::string& member_id) const {
    switch (g.state) {
      case GroupState::Empty:
      case GroupState::Dead:
        return true;
      case GroupState::PreparingRebalance: {
        auto it = g.members.find(member_id);
        return (it != g.members.end() && it->second.awaiting_join) || g.awaiting_join_count() < config.max_size;
      }
      default:
        return g.has(member_id) || static_cast<int64_t>(g.members.size()) < config.max_size;
    }
  }

  // ---- JoinGroup --------------------------------------------------------------------------

  void join_group(msg::JoinGroupRequest req, ClientInfo client, JoinCallback done) {
    if (req.group_id.empty()) return done(join_error(ErrorCode::INVALID_GROUP_ID, req.member_id));
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return done(join_error(e, req.member_id));
    if (req.session_timeout_ms < config.min_session_timeout_ms || req.session_timeout_ms > config.max_session_timeout_ms)
      return done(join_error(ErrorCode::INVALID_SESSION_TIMEOUT, req.member_id));
    // v0 has no rebalance timeout: the session timeout serves for both.
    int32_t rebalance_timeout = req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
    bool unknown_member = req.member_id.empty();
    Group* existing = find(req.group_id);
    if (!existing && !unknown_member) return done(join_error(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id));
    Group& g = existing ? *existing : get_or_create(req.group_id);
    if (!accept_joining_member(g, req.member_id)) {
      spdlog::info("group {}: refusing member {}: group.max.size {} reached", g.id, req.member_id, config.max_size);
      return done(join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, req.member_id));
    }
    if (g.state == GroupState::Dead) return done(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, req.member_id));
    auto protocols = protocols_of(req);
    if (!g.supports_protocols(req.protocol_type, protocols)) {
      discard_if_unused(g);
      return done(join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id));
    }
    if (unknown_member)
      join_unknown_member(g, req, client, rebalance_timeout, std::move(done));
    else
      join_known_member(g, req, client, rebalance_timeout, std::move(done));
  }

  // A group created by a JoinGroup that was refused holds nothing: forget it.
  void discard_if_unused(Group& g) {
    if (g.state == GroupState::Empty && g.members.empty() && g.offsets.empty() && g.generation == 0 &&
        g.pending_members.empty())
      groups.erase(g.id);
  }

  void join_unknown_member(Group& g, const msg::JoinGroupRequest& req, const ClientInfo& client,
                           int32_t rebalance_timeout, JoinCallback done) {
    std::string member_id = new_member_id(client.client_id, req.group_instance_id);
    if (req.group_instance_id) {
      auto s = g.static_members.find(*req.group_instance_id);
      if (s != g.static_members.end() && g.has(s->second)) {
        replace_static_member(g, s->second, member_id, req, client, rebalance_timeout, std::move(done));
        return;
      }
      add_member_and_rebalance(g, member_id, req, client, rebalance_timeout, std::move(done));
      return;
    }
    if (client.api_version >= 4) {
      // The member must come back with this id (so a client that loses the answer does not
      // leave a ghost member behind until its session expires).
      schedule_pending_timeout(g, member_id, req.session_timeout_ms);
      return done(join_error(ErrorCode::MEMBER_ID_REQUIRED, member_id));
    }
    add_member_and_rebalance(g, member_id, req, client, rebalance_timeout, std::move(done));
  }

  // A static member restarted (new member id, same group.instance.id): it takes over the old
  // member's place and assignment. In a Stable group whose protocol choice is unchanged there
  // is no rebalance: it gets the current generation back.
  // `old_id` by value: the caller's reference points into static_members, which changes here.
  void replace_static_member(Group& g, std::string old_id, const std::string& new_id,
                             const msg::JoinGroupRequest& req, const ClientInfo& client, int32_t rebalance_timeout,
                             JoinCallback done) {
    auto node = g.members.extract(old_id);
    Member m = std::move(node.mapped());
    if (m.session_timer) m.session_timer->cancel();
    if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_error(ErrorCode::FENCED_INSTANCE_ID, old_id));
    if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(ErrorCode::FENCED_INSTANCE_ID));
    m.id = new_id;
    m.client_id = client.client_id;
    m.client_host = client.client_host;
    m.session_timeout_ms = req.session_timeout_ms;
    m.rebalance_timeout_ms = rebalance_timeout;
    m.protocols = protocols_of(req);
    m.supports_skip_assignment = client.api_version >= 9;
    g.static_members[*req.group_instance_id] = new_id;
    if (g.is_leader(old_id)) g.leader = new_id;
    if (g.awaiting_first_sync.erase(old_id)) g.awaiting_first_sync.insert(new_id);
    Member& placed = g.members.emplace(new_id, std::move(m)).first->second;
    spdlog::info("group {}: static member {} rejoined as {} (was {})", g.id, *req.group_instance_id, new_id, old_id);
    if (g.state == GroupState::Stable && g.select_protocol() == g.protocol) {
      schedule_session_timeout(g, placed);
      bool leader = g.is_leader(new_id);
      std::weak_ptr<Impl> weak = shared_from_this();
      // Persist the new member id before answering, so a coordinator move keeps it.
      store_group(g, current_assignments(g), [weak, gid = g.id, new_id, leader, done = std::move(done)](ErrorCode e) {
        auto self = weak.lock();
        Group* grp = self ? self->find(gid) : nullptr;
        if (!grp || !grp->has(new_id)) return done(join_error(ErrorCode::UNKNOWN_MEMBER_ID, new_id));
        if (e != ErrorCode::NONE) return done(join_error(commit_error_for(e), new_id));
        const Member& mem = grp->members.at(new_id);
        done(self->current_generation_response(*grp, mem, leader, leader && mem.supports_skip_assignment));
      });
      return;
    }
    placed.awaiting_join = std::move(done);
    schedule_session_timeout(g, placed);
    if (g.state == GroupState::PreparingRebalance)
      maybe_complete_join(g);
    else
      maybe_prepare_rebalance(g, "static member " + *req.group_instance_id + " rejoined with new metadata");
  }

  void join_known_member(Group& g, const msg::JoinGroupRequest& req, const ClientInfo& client,
                         int32_t rebalance_timeout, JoinCallback done) {
    if (auto p = g.pending_members.find(req.member_id); p != g.pending_members.end()) {
      p->second->cancel();
      g.pending_members.erase(p);
      add_member_and_rebalance(g, req.member_id, req, client, rebalance_timeout, std::move(done));
      return;
    }
    if (auto e = validate_member(g, req.member_id, req.group_instance_id); e != ErrorCode::NONE)
      return done(join_error(e, req.member_id));
    Member& m = g.members.at(req.member_id);
    auto protocols = protocols_of(req);
    switch (g.state) {
      case GroupState::PreparingRebalance:
        update_member_and_rebalance(g, m, req, client, rebalance_timeout, std::move(done));
        return;
      case GroupState::CompletingRebalance:
        if (m.protocols == protocols) {
          // It did not see the JoinGroup answer of this generation: send it again.
          schedule_session_timeout(g, m);
          return done(current_generation_response(g, m, g.is_leader(m.id)));
        }
        update_member_and_rebalance(g, m, req, client, rebalance_timeout, std::move(done));
        return;
      case GroupState::Stable:
        if (g.is_leader(m.id) || m.protocols != protocols) {
          // The leader rejoining means it wants a new assignment (e.g. its subscription
          // matched new topics); new metadata means the assignment may change.
          update_member_and_rebalance(g, m, req, client, rebalance_timeout, std::move(done));
          return;
        }
        schedule_session_timeout(g, m);
        return done(current_generation_response(g, m, false));
      default:
        return done(join_error(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id));
    }
  }

  // Kafka's validateCurrentMember: a static member with a stale member id is fenced; an
  // unknown member id is UNKNOWN_MEMBER_ID.
  ErrorCode validate_member(const Group& g, const std::string& member_id,
                            const std::optional<std::string>& instance_id) const {
    if (instance_id) {
      auto s = g.static_members.find(*instance_id);
      if (s != g.static_members.end() && s->second != member_id) return ErrorCode::FENCED_INSTANCE_ID;
    }
    if (!g.has(member_id)) return ErrorCode::UNKNOWN_MEMBER_ID;
    return ErrorCode::NONE;
  }

  // ---- SyncGroup --------------------------------------------------------------------------

  void sync_group(msg::SyncGroupRequest req, ClientInfo client, SyncCallback done) {
    (void)client;
    if (req.group_id.empty()) return done(sync_error(ErrorCode::INVALID_GROUP_ID));
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return done(sync_error(e));
    Group* g = find(req.group_id);
    if (!g) return done(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
    if (g->state == GroupState::Dead) return done(sync_error(ErrorCode::COORDINATOR_NOT_AVAILABLE));
    if (auto e = validate_member(*g, req.member_id, req.group_instance_id); e != ErrorCode::NONE)
      return done(sync_error(e));
    if (req.generation_id != g->generation) return done(sync_error(ErrorCode::ILLEGAL_GENERATION));
    if ((req.protocol_type && *req.protocol_type != g->protocol_type) ||
        (req.protocol_name && *req.protocol_name != g->protocol.value_or("")))
      return done(sync_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
    Member& m = g->members.at(req.member_id);
    switch (g->state) {
      case GroupState::Empty:
        return done(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
      case GroupState::PreparingRebalance:
        return done(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
      case GroupState::CompletingRebalance: {
        if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
        m.awaiting_sync = std::move(done);
        g->awaiting_first_sync.erase(m.id);
        schedule_session_timeout(*g, m);
        if (!g->is_leader(m.id)) return;
        std::map<std::string, std::vector<uint8_t>> assignments;
        for (auto& a : req.assignments)
          if (g->has(a.member_id)) assignments[a.member_id] = std::move(a.assignment);
        for (const auto& [id, mem] : g->members) assignments.try_emplace(id);
        std::weak_ptr<Impl> weak = shared_from_this();
        store_group(*g, assignments, [weak, gid = g->id, gen = g->generation, assignments](ErrorCode e) {
          auto self = weak.lock();
          Group* grp = self ? self->find(gid) : nullptr;
          // Another rebalance may have started meanwhile; then its own sync decides.
          if (!grp || grp->state != GroupState::CompletingRebalance || grp->generation != gen) return;
          if (e != ErrorCode::NONE) {
            self->reset_and_propagate_sync_error(*grp, commit_error_for(e));
            self->prepare_rebalance(*grp, "storing the assignment failed");
            return;
          }
          for (auto& [id, mem] : grp->members) {
            auto a = assignments.find(id);
            mem.assignment = a != assignments.end() ? a->second : std::vector<uint8_t>{};
          }
          self->set_state(*grp, GroupState::Stable);
          for (auto& [id, mem] : grp->members)
            if (mem.awaiting_sync) std::exchange(mem.awaiting_sync, nullptr)(self->sync_ok(*grp, mem));
        });
        return;
      }
      case GroupState::Stable:
        g->awaiting_first_sync.erase(m.id);
        schedule_session_timeout(*g, m);
        return done(sync_ok(*g, m));
      default:
        return done(sync_error(ErrorCode::COORDINATOR_NOT_AVAILABLE));
    }
  }

  SyncResp sync_ok(const Group& g, const Member& m) const {
    SyncResp r;
    r.error_code = to_wire(ErrorCode::NONE);
    r.protocol_type = g.protocol_type;
    r.protocol_name = g.protocol;
    r.assignment = m.assignment;
    return r;
  }

  std::map<std::string, std::vector<uint8_t>> current_assignments(const Group& g) const {
    std::map<std::string, std::vector<uint8_t>> out;
    for (const auto& [id, m] : g.members) out[id] = m.assignment;
    return out;
  }

  // ---- Heartbeat, LeaveGroup --------------------------------------------------------------

  ErrorCode heartbeat(const msg::HeartbeatRequest& req) {
    if (req.group_id.empty()) return ErrorCode::INVALID_GROUP_ID;
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return e;
    Group* g = find(req.group_id);
    if (!g) return ErrorCode::UNKNOWN_MEMBER_ID;
    if (g->state == GroupState::Dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
    if (auto e = validate_member(*g, req.member_id, req.group_instance_id); e != ErrorCode::NONE) return e;
    if (req.generation_id != g->generation) return ErrorCode::ILLEGAL_GENERATION;
    switch (g->state) {
      case GroupState::Empty:
        return ErrorCode::UNKNOWN_MEMBER_ID;
      case GroupState::PreparingRebalance:
        schedule_session_timeout(*g, g->members.at(req.member_id));
        return ErrorCode::REBALANCE_IN_PROGRESS;
      default:
        schedule_session_timeout(*g, g->members.at(req.member_id));
        return ErrorCode::NONE;
    }
  }

  msg::LeaveGroupResponse leave_group(const msg::LeaveGroupRequest& req, int16_t version) {
    msg::LeaveGroupResponse resp;
    std::vector<std::pair<std::string, std::optional<std::string>>> leaving;
    if (version < 3)
      leaving.emplace_back(req.member_id, std::nullopt);
    else
      for (const auto& m : req.members) leaving.emplace_back(m.member_id, m.group_instance_id);
    auto all = [&](ErrorCode code) {
      resp.error_code = to_wire(code);
      return resp;
    };
    if (req.group_id.empty()) return all(ErrorCode::INVALID_GROUP_ID);
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return all(e);
    Group* g = find(req.group_id);
    if (g && g->state == GroupState::Dead) return all(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    for (const auto& [member_id, instance_id] : leaving) {
      msg::LeaveGroupResponse::MemberResponse mr;
      mr.member_id = member_id;
      mr.group_instance_id = instance_id;
      ErrorCode code = ErrorCode::NONE;
      std::string target = member_id;
      if (!g) {
        code = ErrorCode::UNKNOWN_MEMBER_ID;
      } else if (instance_id) {
        auto s = g->static_members.find(*instance_id);
        if (s == g->static_members.end())
          code = ErrorCode::UNKNOWN_MEMBER_ID;
        else if (!member_id.empty() && s->second != member_id)
          code = ErrorCode::FENCED_INSTANCE_ID;
        else
          target = s->second;
      } else if (auto p = g->pending_members.find(member_id); p != g->pending_members.end()) {
        p->second->cancel();
        g->pending_members.erase(p);
        target.clear();
        if (g->state == GroupState::PreparingRebalance) maybe_complete_join(*g);
      } else if (!g->has(member_id)) {
        code = ErrorCode::UNKNOWN_MEMBER_ID;
      }
      if (code == ErrorCode::NONE && !target.empty()) {
        spdlog::info("group {}: member {} left", g->id, target);
        remove_member_and_update(*g, target);
      }
      mr.error_code = to_wire(code);
      resp.members.push_back(std::move(mr));
    }
    // Before v3 there is one member and its error is the answer's.
    if (version < 3 && !resp.members.empty()) resp.error_code = resp.members.front().error_code;
    return resp;
  }

  // ---- persistence ------------------------------------------------------------------------

  void store_group(Group& g, const std::map<std::string, std::vector<uint8_t>>& assignments,
                   std::function<void(ErrorCode)> done) {
    rec::GroupMetadataValue v;
    v.protocol_type = g.protocol_type;
    v.generation = g.generation;
    v.protocol = g.protocol;
    v.leader = g.leader;
    v.current_state_timestamp = g.state_timestamp;
    for (const Member* m : g.members_in_join_order()) {
      rec::GroupMetadataValue::MemberMetadata mm;
      mm.member_id = m->id;
      mm.group_instance_id = m->instance_id;
      mm.client_id = m->client_id;
      mm.client_host = m->client_host;
      mm.rebalance_timeout = m->rebalance_timeout_ms;
      mm.session_timeout = m->session_timeout_ms;
      if (const auto* meta = m->metadata_for(g.protocol.value_or(""))) mm.subscription = *meta;
      if (auto a = assignments.find(m->id); a != assignments.end()) mm.assignment = a->second;
      v.members.push_back(std::move(mm));
    }
    rec::GroupMetadataKey k;
    k.group = g.id;
    log.append(g.partition, {GroupRecord{encode_key(k), encode_value(v)}}, std::nullopt,
               [done = std::move(done)](Result<int64_t> r) { done(r.code()); });
  }

  static std::string offset_key(const std::string& group, const TopicPartition& tp) {
    rec::OffsetCommitKey k;
    k.group = group;
    k.topic = tp.topic;
    k.partition = tp.partition;
    return encode_key(k);
  }

  static GroupRecord offset_record(const std::string& group, const TopicPartition& tp, const CommittedOffset& c) {
    rec::OffsetCommitValue v;
    v.offset = c.offset;
    v.leader_epoch = c.leader_epoch;
    v.metadata = c.metadata;
    v.commit_timestamp = c.commit_timestamp;
    v.expire_timestamp = c.expire_timestamp;
    return {offset_key(group, tp), encode_value(v)};
  }

  // ---- offsets ----------------------------------------------------------------------------

  void commit_offsets(msg::OffsetCommitRequest req, const ClientInfo& client,
                      std::function<void(msg::OffsetCommitResponse)> done) {
    auto answer_all = [&](ErrorCode code) {
      done(commit_response(req, [code](const std::string&, int32_t) { return to_wire(code); }));
    };
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return answer_all(e);
    int32_t generation = req.generation_id_or_member_epoch;
    Group* g = find(req.group_id);
    if (!g) {
      // A group that does not use Kafka for membership (assign() and commit) may commit
      // with generation -1; a positive generation of an unknown group is stale.
      if (generation >= 0) return answer_all(ErrorCode::ILLEGAL_GENERATION);
      g = &get_or_create(req.group_id);
    }
    if (g->state == GroupState::Dead) return answer_all(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    if (generation >= 0 || !req.member_id.empty() || req.group_instance_id) {
      if (auto e = validate_member(*g, req.member_id, req.group_instance_id); e != ErrorCode::NONE)
        return answer_all(e);
      if (generation != g->generation) return answer_all(ErrorCode::ILLEGAL_GENERATION);
    } else if (g->state != GroupState::Empty) {
      // Only members may commit for a group that has them.
      return answer_all(ErrorCode::UNKNOWN_MEMBER_ID);
    }
    if (g->state == GroupState::CompletingRebalance) return answer_all(ErrorCode::REBALANCE_IN_PROGRESS);
    if (g->has(req.member_id)) schedule_session_timeout(*g, g->members.at(req.member_id));

    int64_t now = loop.now_ms();
    // Retention asked by the client (v2-v4), else the broker's.
    int64_t expire = req.retention_time_ms > 0 ? now + req.retention_time_ms : -1;
    auto stamp = [&](CommittedOffset& c, const auto& p) {
      // v1 carries the commit time; an explicit one also fixes the retention.
      bool explicit_time = client.api_version == 1 && p.commit_timestamp >= 0;
      c.commit_timestamp = explicit_time ? p.commit_timestamp : now;
      c.expire_timestamp = explicit_time ? p.commit_timestamp + config.offsets_retention_ms : expire;
    };
    write_offsets<msg::OffsetCommitResponse>(
        *g, req, stamp, std::nullopt,
        [](Group& grp, WrittenOffsets& written) {
          for (auto& [tp, c] : written) {
            auto& slot = grp.offsets[tp];
            if (slot.log_offset < c.log_offset) slot = c;
          }
        },
        std::move(done));
  }

  using WrittenOffsets = std::vector<std::pair<TopicPartition, CommittedOffset>>;

  // Writes the offsets of an OffsetCommit or TxnOffsetCommit request as one batch (of `txn`'s
  // transaction when set) and answers in request order: OFFSET_METADATA_TOO_LARGE for a
  // partition whose metadata is too long, the write's outcome for the others. `stamp` sets
  // an offset's timestamps; `apply` takes the written offsets (with their log offsets) into
  // the group once the write is committed.
  template <class Response, class Request, class Stamp>
  void write_offsets(Group& g, const Request& req, Stamp stamp, std::optional<TxnProducer> txn,
                     std::function<void(Group&, WrittenOffsets&)> apply, std::function<void(Response)> done) {
    std::vector<GroupRecord> records;
    WrittenOffsets written;
    std::set<TopicPartition> failed;
    for (const auto& t : req.topics) {
      for (const auto& p : t.partitions) {
        TopicPartition tp{t.name, p.partition_index};
        const std::string metadata = p.committed_metadata.value_or("");
        if (static_cast<int64_t>(metadata.size()) > config.offset_metadata_max_bytes) {
          failed.insert(tp);
          continue;
        }
        CommittedOffset c;
        c.offset = p.committed_offset;
        c.leader_epoch = p.committed_leader_epoch;
        c.metadata = metadata;
        stamp(c, p);
        records.push_back(offset_record(g.id, tp, c));
        written.emplace_back(tp, c);
      }
    }
    // Errors known before the write are filled in now, the others (-1 here) when it completes.
    auto resp = shaped_commit_response<Response>(req, [&](const std::string& topic, int32_t partition) -> int16_t {
      return failed.count(TopicPartition{topic, partition}) ? to_wire(ErrorCode::OFFSET_METADATA_TOO_LARGE) : -1;
    });
    if (records.empty()) return done(std::move(resp));
    std::weak_ptr<Impl> weak = shared_from_this();
    log.append(g.partition, records, txn,
               [weak, gid = g.id, written = std::move(written), resp = std::move(resp), apply = std::move(apply),
                done = std::move(done)](Result<int64_t> r) mutable {
                 ErrorCode code = r.ok() ? ErrorCode::NONE : commit_error_for(r.code());
                 auto self = weak.lock();
                 Group* grp = self ? self->find(gid) : nullptr;
                 if (r.ok() && grp) {
                   int64_t log_offset = r.value();
                   for (auto& [tp, c] : written) c.log_offset = log_offset++;
                   apply(*grp, written);
                 } else if (r.ok()) {
                   code = ErrorCode::NOT_COORDINATOR;  // moved away while writing
                 }
                 for (auto& t : resp.topics)
                   for (auto& p : t.partitions)
                     if (p.error_code == -1) p.error_code = to_wire(code);
                 done(std::move(resp));
               });
  }

  // Kafka's handleTxnCommitOffsets + doTxnCommitOffsets. Unlike OffsetCommit, a group that
  // has members accepts commits without member fields (TxnOffsetCommit before v3 has none)
  // and a rebalance in progress does not refuse them.
  void commit_txn_offsets(const msg::TxnOffsetCommitRequest& req,
                          std::function<void(msg::TxnOffsetCommitResponse)> done) {
    auto answer_all = [&](ErrorCode code) {
      done(txn_commit_response(req, [code](const std::string&, int32_t) { return to_wire(code); }));
    };
    if (req.group_id.empty()) return answer_all(ErrorCode::INVALID_GROUP_ID);
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return answer_all(e);
    const bool member_fields = req.generation_id >= 0 || !req.member_id.empty() || req.group_instance_id;
    Group* g = find(req.group_id);
    // Kafka creates an unknown group empty; member fields would name nobody in it, so that is
    // answered UNKNOWN_MEMBER_ID without creating the group.
    if (!g && member_fields) return answer_all(ErrorCode::UNKNOWN_MEMBER_ID);
    if (!g) g = &get_or_create(req.group_id);
    if (g->state == GroupState::Dead) return answer_all(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    if (member_fields) {
      if (auto e = validate_member(*g, req.member_id, req.group_instance_id); e != ErrorCode::NONE)
        return answer_all(e);
      if (req.generation_id != g->generation) return answer_all(ErrorCode::ILLEGAL_GENERATION);
    }

    const int64_t now = loop.now_ms();
    const int64_t producer_id = req.producer_id;
    write_offsets<msg::TxnOffsetCommitResponse>(
        *g, req, [now](CommittedOffset& c, const auto&) { c.commit_timestamp = now; },
        TxnProducer{req.producer_id, req.producer_epoch},
        [producer_id](Group& grp, WrittenOffsets& written) {
          // Pending until the transaction's marker (complete_txn); a later write of the same
          // transaction replaces an earlier one.
          auto& pending = grp.pending_txn_offsets[producer_id];
          for (auto& [tp, c] : written) pending[tp] = c;
        },
        std::move(done));
  }

  void complete_txn(int32_t partition, int64_t producer_id, bool committed) {
    // A partition still loading gets the marker from its log.
    if (stopped || partitions.count(partition) == 0 || partitions[partition] != PartitionState::Owned) return;
    for (auto& [id, g] : groups)
      if (g->partition == partition) g->complete_txn(producer_id, committed);
  }

  FetchedOffsets fetch_offsets(const std::string& group_id,
                               const std::optional<std::map<std::string, std::vector<int32_t>>>& topics,
                               bool require_stable) {
    FetchedOffsets out;
    if (auto e = coordinator_error(group_id); e != ErrorCode::NONE) {
      out.error = e;
      if (topics)
        for (const auto& [t, parts] : *topics)
          for (int32_t p : parts) out.partitions.push_back({t, p, -1, -1, "", e});
      return out;
    }
    Group* g = find(group_id);
    // Kafka's getOffsets: with require_stable, a partition whose offset a transaction may
    // still change is answered UNSTABLE_OFFSET_COMMIT (the client retries).
    auto unstable = [&](const TopicPartition& tp) {
      return require_stable && g && g->has_pending_txn_offset(tp);
    };
    if (!topics) {
      if (g)
        for (const auto& [tp, c] : g->offsets) {
          if (unstable(tp))
            out.partitions.push_back({tp.topic, tp.partition, -1, -1, "", ErrorCode::UNSTABLE_OFFSET_COMMIT});
          else
            out.partitions.push_back({tp.topic, tp.partition, c.offset, c.leader_epoch, c.metadata, ErrorCode::NONE});
        }
      return out;
    }
    for (const auto& [t, parts] : *topics) {
      for (int32_t p : parts) {
        FetchedOffset f{t, p, -1, -1, "", ErrorCode::NONE};
        if (unstable(TopicPartition{t, p})) {
          f.error = ErrorCode::UNSTABLE_OFFSET_COMMIT;
        } else if (g) {
          if (auto it = g->offsets.find(TopicPartition{t, p}); it != g->offsets.end()) {
            f.offset = it->second.offset;
            f.leader_epoch = it->second.leader_epoch;
            f.metadata = it->second.metadata;
          }
        }
        out.partitions.push_back(std::move(f));
      }
    }
    return out;
  }

  void delete_offsets(const msg::OffsetDeleteRequest& req, std::function<void(msg::OffsetDeleteResponse)> done) {
    msg::OffsetDeleteResponse resp;
    auto fail = [&](ErrorCode code) {
      resp.error_code = to_wire(code);
      done(std::move(resp));
    };
    if (req.group_id.empty()) return fail(ErrorCode::INVALID_GROUP_ID);
    if (auto e = coordinator_error(req.group_id); e != ErrorCode::NONE) return fail(e);
    Group* g = find(req.group_id);
    if (!g || g->state == GroupState::Dead) return fail(ErrorCode::GROUP_ID_NOT_FOUND);
    std::optional<std::set<std::string>> subscribed;
    if (g->state != GroupState::Empty) {
      if (g->protocol_type != "consumer") return fail(ErrorCode::NON_EMPTY_GROUP);
      subscribed = g->subscribed_topics();
    }
    std::vector<GroupRecord> tombstones;
    std::vector<TopicPartition> deleted;
    for (const auto& t : req.topics) {
      msg::OffsetDeleteResponse::OffsetDeleteResponseTopic rt;
      rt.name = t.name;
      // Unknown subscriptions count as subscribed: nothing a member may still use is deleted.
      bool in_use = g->state != GroupState::Empty && (!subscribed || subscribed->count(t.name));
      for (const auto& p : t.partitions) {
        msg::OffsetDeleteResponse::OffsetDeleteResponseTopic::OffsetDeleteResponsePartition rp;
        rp.partition_index = p.partition_index;
        if (in_use) {
          rp.error_code = to_wire(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
        } else {
          TopicPartition tp{t.name, p.partition_index};
          if (g->offsets.count(tp)) {
            tombstones.push_back({offset_key(g->id, tp), std::nullopt});
            deleted.push_back(tp);
          }
          rp.error_code = to_wire(ErrorCode::NONE);
        }
        rt.partitions.push_back(rp);
      }
      resp.topics.push_back(std::move(rt));
    }
    if (tombstones.empty()) return done(std::move(resp));
    std::weak_ptr<Impl> weak = shared_from_this();
    log.append(g->partition, tombstones, std::nullopt,
               [weak, gid = g->id, deleted, resp = std::move(resp), done = std::move(done)](Result<int64_t> r) mutable {
                 auto self = weak.lock();
                 Group* grp = self ? self->find(gid) : nullptr;
                 if (!r.ok()) {
                   resp.error_code = to_wire(commit_error_for(r.code()));
                   return done(std::move(resp));
                 }
                 if (grp)
                   for (const auto& tp : deleted) {
                     grp->offsets.erase(tp);
                     for (auto& [producer, offsets] : grp->pending_txn_offsets) offsets.erase(tp);
                   }
                 done(std::move(resp));
               });
  }

  // ---- administration ---------------------------------------------------------------------

  Described describe(const std::string& group_id) {
    Described d;
    d.group_id = group_id;
    if (auto e = coordinator_error(group_id); e != ErrorCode::NONE) {
      d.error_code = to_wire(e);
      return d;
    }
    d.error_code = to_wire(ErrorCode::NONE);
    Group* g = find(group_id);
    if (!g) {
      d.group_state = std::string(state_name(GroupState::Dead));
      return d;
    }
    d.group_state = std::string(state_name(g->state));
    d.protocol_type = g->protocol_type;
    // Metadata and assignments are only meaningful once the generation is complete.
    bool stable = g->state == GroupState::Stable;
    d.protocol_data = stable ? g->protocol.value_or("") : "";
    for (const Member* m : g->members_in_join_order()) {
      msg::DescribeGroupsResponse::DescribedGroup::DescribedGroupMember dm;
      dm.member_id = m->id;
      dm.group_instance_id = m->instance_id;
      dm.client_id = m->client_id;
      dm.client_host = m->client_host;
      if (stable) {
        if (const auto* meta = m->metadata_for(g->protocol.value_or(""))) dm.member_metadata = *meta;
        dm.member_assignment = m->assignment;
      }
      d.members.push_back(std::move(dm));
    }
    return d;
  }

  ListedGroups list_groups(const std::vector<std::string>& states_filter) {
    ListedGroups out;
    std::set<GroupState> wanted;
    for (const auto& s : states_filter)
      if (auto st = parse_state(s)) wanted.insert(*st);
    bool filtered = !states_filter.empty();
    for (const auto& [p, st] : partitions)
      if (st == PartitionState::Loading) out.error = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    for (const auto& [id, g] : groups) {
      if (g->state == GroupState::Dead) continue;
      if (filtered && !wanted.count(g->state)) continue;
      out.groups.push_back({id, g->protocol_type, g->state});
    }
    return out;
  }

  void delete_groups(const std::vector<std::string>& ids,
                     std::function<void(std::vector<std::pair<std::string, ErrorCode>>)> done) {
    auto results = std::make_shared<std::vector<std::pair<std::string, ErrorCode>>>();
    auto outstanding = std::make_shared<int>(1);
    auto finish = [results, outstanding, done]() {
      if (--*outstanding == 0) done(std::move(*results));
    };
    for (const auto& id : ids) {
      ErrorCode code = coordinator_error(id);
      Group* g = code == ErrorCode::NONE ? find(id) : nullptr;
      if (code == ErrorCode::NONE) {
        if (!g || g->state == GroupState::Dead)
          code = ErrorCode::GROUP_ID_NOT_FOUND;
        else if (g->state != GroupState::Empty)
          code = ErrorCode::NON_EMPTY_GROUP;
      }
      size_t slot = results->size();
      results->emplace_back(id, code);
      if (code != ErrorCode::NONE) continue;
      // Dead first, so nothing joins or commits while the tombstones are written.
      set_state(*g, GroupState::Dead);
      std::vector<GroupRecord> tombstones;
      for (const auto& [tp, c] : g->offsets) tombstones.push_back({offset_key(id, tp), std::nullopt});
      rec::GroupMetadataKey k;
      k.group = id;
      tombstones.push_back({encode_key(k), std::nullopt});
      int32_t partition = g->partition;
      drop(*g, ErrorCode::COORDINATOR_NOT_AVAILABLE);
      groups.erase(id);
      spdlog::info("group {} deleted", id);
      ++*outstanding;
      log.append(partition, tombstones, std::nullopt, [results, slot, finish](Result<int64_t> r) {
        if (!r.ok()) (*results)[slot].second = commit_error_for(r.code());
        finish();
      });
    }
    finish();
  }

  // ---- offset expiry ----------------------------------------------------------------------

  void schedule_expiry() {
    std::weak_ptr<Impl> weak = shared_from_this();
    expiry_timer = loop.after_ms(config.offsets_retention_check_interval_ms, [weak] {
      if (auto self = weak.lock()) {
        self->expire_offsets();
        self->schedule_expiry();
      }
    });
  }

  // Kafka's rules: offsets of an Empty group expire offsets.retention.minutes after it became
  // empty (after their commit when the group never used the group protocol); in a consumer
  // group that is alive, offsets of topics no member subscribes to expire after their commit.
  // An explicit retention from OffsetCommit v1-v4 wins. A group left with no offsets and no
  // members is deleted.
  void expire_offsets() {
    int64_t now = loop.now_ms();
    std::vector<std::string> dead;
    for (auto& [id, g] : groups) {
      if (coordinator_error(id) != ErrorCode::NONE || g->state == GroupState::Dead) continue;
      std::optional<std::set<std::string>> subscribed;
      bool empty = g->state == GroupState::Empty;
      if (!empty) {
        if (g->protocol_type != "consumer") continue;
        subscribed = g->subscribed_topics();
        if (!subscribed) continue;
      }
      std::vector<GroupRecord> tombstones;
      size_t expired_offsets = 0;
      for (auto it = g->offsets.begin(); it != g->offsets.end();) {
        const CommittedOffset& c = it->second;
        bool expired;
        if (c.expire_timestamp >= 0)
          expired = now >= c.expire_timestamp;
        else if (empty)
          expired = now >= (g->protocol_type.empty() ? c.commit_timestamp : g->state_timestamp) + config.offsets_retention_ms;
        else
          expired = !subscribed->count(it->first.topic) && now >= c.commit_timestamp + config.offsets_retention_ms;
        if (expired) {
          tombstones.push_back({offset_key(id, it->first), std::nullopt});
          it = g->offsets.erase(it);
          ++expired_offsets;
        } else {
          ++it;
        }
      }
      if (empty && g->offsets.empty() && g->members.empty() && g->pending_txn_offsets.empty()) {
        rec::GroupMetadataKey k;
        k.group = id;
        tombstones.push_back({encode_key(k), std::nullopt});
        dead.push_back(id);
      }
      if (!tombstones.empty()) {
        spdlog::info("group {}: {} offsets expired", id, expired_offsets);
        log.append(g->partition, tombstones, std::nullopt, [gid = id](Result<int64_t> r) {
          // Forgotten in memory already; a coordinator that reloads this partition sees them
          // again and expires them again.
          if (!r.ok()) spdlog::warn("group {}: writing expired offsets failed: {}", gid, r.error().message);
        });
      }
    }
    for (const auto& id : dead) {
      set_state(*groups.at(id), GroupState::Dead);
      groups.erase(id);
    }
  }

  std::vector<GroupSnapshot> snapshot() const {
    std::vector<GroupSnapshot> out;
    for (const auto& [id, g] : groups) {
      GroupSnapshot s;
      s.group_id = id;
      s.state = g->state;
      s.members = static_cast<int>(g->members.size());
      s.rebalances = g->rebalances;
      for (const auto& [tp, c] : g->offsets) s.committed[tp] = c.offset;
      out.push_back(std::move(s));
    }
    return out;
  }
};

GroupCoordinator::GroupCoordinator(GroupConfig config, runtime::EventLoop& loop, GroupLog& log)
    : impl_(std::make_shared<Impl>(config, loop, log)) {}

GroupCoordinator::~GroupCoordinator() = default;

int32_t GroupCoordinator::partition_for(std::string_view group_id, int32_t partitions) {
  // Java's String.hashCode: s[0]*31^(n-1) + ... over UTF-16 code units, in int32 arithmetic.
  uint32_t h = 0;
  auto add_unit = [&](uint32_t unit) { h = h * 31 + unit; };
  for (size_t i = 0; i < group_id.size();) {
    auto c = static_cast<unsigned char>(group_id[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if ((c >> 5) == 0x6) {
      cp = c & 0x1f, len = 2;
    } else if ((c >> 4) == 0xe) {
      cp = c & 0x0f, len = 3;
    } else if ((c >> 3) == 0x1e) {
      cp = c & 0x07, len = 4;
    } else {
      cp = 0xfffd, len = 1;  // not UTF-8: Java would have decoded a replacement character
    }
    if (i + len > group_id.size()) {
      cp = 0xfffd;
      len = group_id.size() - i;
    } else {
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(group_id[i + k]) & 0x3f);
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      add_unit(0xd800 + (cp >> 10));
      add_unit(0xdc00 + (cp & 0x3ff));
    } else {
      add_unit(cp);
    }
    i += len;
  }
  auto hash = static_cast<int32_t>(h);
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
  int32_t abs = hash == INT32_MIN ? 0 : (hash < 0 ? -hash : hash);
  return partitions > 0 ? abs % partitions : 0;
}

void GroupCoordinator::became_leader(int32_t partition, int32_t partitions) {
  auto impl = impl_;
  impl->loop.post([impl, partition, partitions] { impl->became_leader(partition, partitions); });
}

void GroupCoordinator::resigned(int32_t partition) {
  auto impl = impl_;
  impl->loop.post([impl, partition] { impl->resigned(partition); });
}

void GroupCoordinator::stop() {
  auto impl = impl_;
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  impl->loop.post([impl, done] {
    impl->stop();
    done->set_value();
  });
  fut.wait_for(std::chrono::seconds(5));
}

void GroupCoordinator::join_group(msg::JoinGroupRequest req, ClientInfo client, JoinCallback done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), client = std::move(client), done = std::move(done)]() mutable {
    impl->join_group(std::move(req), std::move(client), std::move(done));
  });
}

void GroupCoordinator::sync_group(msg::SyncGroupRequest req, ClientInfo client, SyncCallback done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), client = std::move(client), done = std::move(done)]() mutable {
    impl->sync_group(std::move(req), std::move(client), std::move(done));
  });
}

void GroupCoordinator::heartbeat(msg::HeartbeatRequest req, ClientInfo, std::function<void(ErrorCode)> done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), done = std::move(done)] { done(impl->heartbeat(req)); });
}

void GroupCoordinator::leave_group(msg::LeaveGroupRequest req, ClientInfo client,
                                   std::function<void(msg::LeaveGroupResponse)> done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), v = client.api_version, done = std::move(done)] {
    done(impl->leave_group(req, v));
  });
}

void GroupCoordinator::commit_offsets(msg::OffsetCommitRequest req, ClientInfo client,
                                      std::function<void(msg::OffsetCommitResponse)> done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), client = std::move(client), done = std::move(done)]() mutable {
    impl->commit_offsets(std::move(req), client, std::move(done));
  });
}

void GroupCoordinator::commit_txn_offsets(msg::TxnOffsetCommitRequest req, ClientInfo,
                                          std::function<void(msg::TxnOffsetCommitResponse)> done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), done = std::move(done)]() mutable {
    impl->commit_txn_offsets(req, std::move(done));
  });
}

void GroupCoordinator::complete_txn(int32_t offsets_partition, int64_t producer_id, bool committed) {
  auto impl = impl_;
  impl->loop.post([impl, offsets_partition, producer_id, committed] {
    impl->complete_txn(offsets_partition, producer_id, committed);
  });
}

void GroupCoordinator::fetch_offsets(std::string group_id,
                                     std::optional<std::map<std::string, std::vector<int32_t>>> topics,
                                     bool require_stable, std::function<void(FetchedOffsets)> done) {
  auto impl = impl_;
  impl->loop.post([impl, group_id = std::move(group_id), topics = std::move(topics), require_stable,
                   done = std::move(done)] { done(impl->fetch_offsets(group_id, topics, require_stable)); });
}

void GroupCoordinator::describe_groups(std::vector<std::string> ids,
                                       std::function<void(std::vector<Described>)> done) {
  auto impl = impl_;
  impl->loop.post([impl, ids = std::move(ids), done = std::move(done)] {
    std::vector<Described> out;
    for (const auto& id : ids) out.push_back(impl->describe(id));
    done(std::move(out));
  });
}

void GroupCoordinator::list_groups(std::vector<std::string> states_filter, std::function<void(ListedGroups)> done) {
  auto impl = impl_;
  impl->loop.post([impl, f = std::move(states_filter), done = std::move(done)] { done(impl->list_groups(f)); });
}

void GroupCoordinator::delete_groups(std::vector<std::string> ids,
                                     std::function<void(std::vector<std::pair<std::string, ErrorCode>>)> done) {
  auto impl = impl_;
  impl->loop.post([impl, ids = std::move(ids), done = std::move(done)]() mutable {
    impl->delete_groups(ids, std::move(done));
  });
}

void GroupCoordinator::delete_offsets(msg::OffsetDeleteRequest req, std::function<void(msg::OffsetDeleteResponse)> done) {
  auto impl = impl_;
  impl->loop.post([impl, req = std::move(req), done = std::move(done)]() mutable {
    impl->delete_offsets(req, std::move(done));
  });
}

std::vector<GroupSnapshot> GroupCoordinator::snapshot(int64_t timeout_ms) {
  auto impl = impl_;
  auto promise = std::make_shared<std::promise<std::vector<GroupSnapshot>>>();
  auto fut = promise->get_future();
  impl->loop.post([impl, promise] { promise->set_value(impl->snapshot()); });
  if (fut.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) return {};
  return fut.get();
}

}  // namespace kb::coordinator
