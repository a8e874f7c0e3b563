// Generations of a group: preparing and completing a rebalance, the timers that drive it,
// SyncGroup, Heartbeat and LeaveGroup. Joining members are in join.cc.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "coordinator/group/group_records.h"
#include "coordinator/group/rebalance.h"

namespace kb::coordinator {

msg::JoinGroupResponse join_error(ErrorCode code, const std::string& member_id) {
  msg::JoinGroupResponse r;
  r.error_code = to_wire(code);
  r.generation_id = -1;
  r.protocol_name = std::string();
  r.member_id = member_id;
  return r;
}

msg::SyncGroupResponse sync_error(ErrorCode code) {
  msg::SyncGroupResponse r;
  r.error_code = to_wire(code);
  return r;
}

void Rebalancer::drop(Group& g, ErrorCode code) {
  for (auto& [id, m] : g.members) {
    if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_error(code, id));
    if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(code));
    if (m.session_timer) m.session_timer->cancel();
  }
  for (auto& [id, timer] : g.pending_members) timer->cancel();
  if (g.join_timer) g.join_timer->cancel();
  if (g.sync_timer) g.sync_timer->cancel();
}

// ---- timers -------------------------------------------------------------------------------

void Rebalancer::schedule_session_timeout(Group& g, Member& m) {
  if (m.session_timer) m.session_timer->cancel();
  m.session_timer = t_.loop.after_ms(m.session_timeout_ms, t_.guarded([this, gid = g.id, mid = m.id] {
    on_session_timeout(gid, mid);
  }));
}

void Rebalancer::on_session_timeout(const std::string& group_id, const std::string& member_id) {
  Group* g = t_.find(group_id);
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

void Rebalancer::schedule_pending_timeout(Group& g, const std::string& member_id, int32_t session_timeout_ms) {
  g.pending_members[member_id] = t_.loop.after_ms(session_timeout_ms, t_.guarded([this, gid = g.id, member_id] {
    Group* grp = t_.find(gid);
    if (!grp || !grp->pending_members.erase(member_id)) return;
    if (grp->is(GroupState::PreparingRebalance)) maybe_complete_join(*grp);
  }));
}

// ---- rebalancing ----------------------------------------------------------------------------

bool Rebalancer::can_rebalance(const Group& g) const {
  return g.is(GroupState::Stable) || g.is(GroupState::CompletingRebalance) || g.is(GroupState::Empty);
}

void Rebalancer::maybe_prepare_rebalance(Group& g, const std::string& reason) {
  if (can_rebalance(g)) prepare_rebalance(g, reason);
}

void Rebalancer::prepare_rebalance(Group& g, const std::string& reason) {
  // Members waiting for the assignment of the generation being abandoned rejoin.
  if (g.is(GroupState::CompletingRebalance)) reset_and_propagate_sync_error(g, ErrorCode::REBALANCE_IN_PROGRESS);
  if (g.sync_timer) g.sync_timer->cancel();
  g.awaiting_first_sync.clear();
  const bool was_empty = g.is(GroupState::Empty);
  t_.transition(g, GroupState::PreparingRebalance);
  ++g.rebalances;
  spdlog::info("group {}: preparing to rebalance (generation {}): {}", g.id, g.generation, reason);
  if (g.join_timer) g.join_timer->cancel();
  const int32_t rebalance_timeout = g.max_rebalance_timeout_ms();
  if (was_empty && t_.config.initial_rebalance_delay_ms > 0) {
    // A new group waits a little for more members, so the first assignment is not redone
    // at once when the others arrive (group.initial.rebalance.delay.ms, extended while
    // members keep joining, never past the rebalance timeout).
    const int32_t delay = std::min(t_.config.initial_rebalance_delay_ms, rebalance_timeout);
    g.initial_delay = true;
    g.joined_during_delay = false;
    g.initial_delay_remaining_ms = std::max(rebalance_timeout - delay, 0);
    g.join_timer = t_.loop.after_ms(delay, t_.guarded([this, gid = g.id] { on_initial_delay(gid); }));
    return;
  }
  g.initial_delay = false;
  g.join_timer = t_.loop.after_ms(rebalance_timeout, t_.guarded([this, gid = g.id] { on_join_timeout(gid); }));
  maybe_complete_join(g);
}

void Rebalancer::on_initial_delay(const std::string& group_id) {
  Group* g = t_.find(group_id);
  if (!g || !g->is(GroupState::PreparingRebalance) || !g->initial_delay) return;
  if (g->joined_during_delay && g->initial_delay_remaining_ms > 0) {
    const int32_t delay = std::min(t_.config.initial_rebalance_delay_ms, g->initial_delay_remaining_ms);
    g->initial_delay_remaining_ms = std::max(g->initial_delay_remaining_ms - delay, 0);
    g->joined_during_delay = false;
    g->join_timer = t_.loop.after_ms(delay, t_.guarded([this, gid = g->id] { on_initial_delay(gid); }));
    return;
  }
  g->initial_delay = false;
  complete_join(*g);
}

void Rebalancer::on_join_timeout(const std::string& group_id) {
  Group* g = t_.find(group_id);
  if (!g || !g->is(GroupState::PreparingRebalance)) return;
  complete_join(*g);
}

void Rebalancer::maybe_complete_join(Group& g) {
  if (g.is(GroupState::PreparingRebalance) && !g.initial_delay && g.all_members_joined()) complete_join(g);
}

void Rebalancer::complete_join(Group& g) {
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
      g.join_timer =
          t_.loop.after_ms(g.max_rebalance_timeout_ms(), t_.guarded([this, gid = g.id] { on_join_timeout(gid); }));
      return;
    }
  }
  ++g.generation;
  if (g.members.empty()) {
    g.protocol.reset();
    g.leader.reset();
    t_.transition(g, GroupState::Empty);
    spdlog::info("group {}: generation {} is empty", g.id, g.generation);
    store_group(g, {}, [gid = g.id](ErrorCode e) {
      // Nobody waits for this write; a reload would show the previous generation.
      if (e != ErrorCode::NONE) spdlog::warn("group {}: storing the empty generation failed: {}", gid, error_name(e));
    });
    return;
  }
  g.protocol = g.select_protocol();
  t_.transition(g, GroupState::CompletingRebalance);
  spdlog::info("group {}: generation {} with {} members, protocol {}, leader {}", g.id, g.generation,
               g.members.size(), g.protocol.value_or(""), *g.leader);
  for (auto& [id, m] : g.members) {
    if (!m.awaiting_join) continue;
    msg::JoinGroupResponse r = current_generation_response(g, m, g.is_leader(id));
    std::exchange(m.awaiting_join, nullptr)(std::move(r));
    g.awaiting_first_sync.insert(id);
    schedule_session_timeout(g, m);
  }
  if (g.sync_timer) g.sync_timer->cancel();
  g.sync_timer = t_.loop.after_ms(g.max_rebalance_timeout_ms(), t_.guarded([this, gid = g.id, gen = g.generation] {
    on_sync_timeout(gid, gen);
  }));
}

msg::JoinGroupResponse Rebalancer::current_generation_response(const Group& g, const Member& m, bool with_members,
                                                               bool skip_assignment) const {
  msg::JoinGroupResponse r;
  r.error_code = to_wire(ErrorCode::NONE);
  r.generation_id = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol.value_or("");
  r.leader = g.leader.value_or("");
  r.member_id = m.id;
  r.skip_assignment = skip_assignment;
  if (with_members) {
    for (const Member* other : g.members_in_join_order()) {
      msg::JoinGroupResponse::JoinGroupResponseMember rm;
      rm.member_id = other->id;
      rm.group_instance_id = other->instance_id;
      if (const auto* meta = other->metadata_for(g.protocol.value_or(""))) rm.metadata = *meta;
      r.members.push_back(std::move(rm));
    }
  }
  return r;
}

void Rebalancer::on_sync_timeout(const std::string& group_id, int32_t generation) {
  Group* g = t_.find(group_id);
  if (!g || g->generation != generation || g->awaiting_first_sync.empty()) return;
  if (!g->is(GroupState::CompletingRebalance) && !g->is(GroupState::Stable)) return;
  std::vector<std::string> late(g->awaiting_first_sync.begin(), g->awaiting_first_sync.end());
  for (const auto& id : late) {
    spdlog::info("group {}: member {} removed: it did not sync within the rebalance timeout", g->id, id);
    remove_member(*g, id);
  }
  g->awaiting_first_sync.clear();
  prepare_rebalance(*g, "members did not sync in time");
}

void Rebalancer::reset_and_propagate_sync_error(Group& g, ErrorCode code) {
  for (auto& [id, m] : g.members) {
    m.assignment.clear();
    if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_error(code));
  }
}

// Removes a member from the group's maps (nothing else): callers decide on the rebalance.
void Rebalancer::remove_member(Group& g, const std::string& member_id) {
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
void Rebalancer::remove_member_and_update(Group& g, const std::string& member_id) {
  remove_member(g, member_id);
  switch (g.state()) {
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

// ---- SyncGroup ------------------------------------------------------------------------------

void Rebalancer::sync_group(msg::SyncGroupRequest req, SyncCallback done) {
  if (req.group_id.empty()) return done(sync_error(ErrorCode::INVALID_GROUP_ID));
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) {
    // Kafka: a loading coordinator lost the rebalance in progress, so the member starts over
    // at JoinGroup without looking for the coordinator again (older clients do not expect
    // COORDINATOR_LOAD_IN_PROGRESS here).
    return done(sync_error(e == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode::REBALANCE_IN_PROGRESS : e));
  }
  Group* g = t_.find(req.group_id);
  if (!g) return done(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
  if (g->is(GroupState::Dead)) return done(sync_error(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  if (auto e = g->validate_member(req.member_id, req.group_instance_id); e != ErrorCode::NONE)
    return done(sync_error(e));
  if (req.generation_id != g->generation) return done(sync_error(ErrorCode::ILLEGAL_GENERATION));
  if ((req.protocol_type && *req.protocol_type != g->protocol_type) ||
      (req.protocol_name && *req.protocol_name != g->protocol.value_or("")))
    return done(sync_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
  Member& m = g->members.at(req.member_id);
  switch (g->state()) {
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
      store_group(*g, assignments, t_.guarded([this, gid = g->id, gen = g->generation, assignments](ErrorCode e) {
        finish_sync(gid, gen, assignments, e);
      }));
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

// The leader's assignment was written (or not): the generation becomes Stable and every
// waiting member gets its part.
void Rebalancer::finish_sync(const std::string& group_id, int32_t generation,
                             const std::map<std::string, std::vector<uint8_t>>& assignments, ErrorCode stored) {
  Group* g = t_.find(group_id);
  // Another rebalance may have started meanwhile; then its own sync decides.
  if (!g || !g->is(GroupState::CompletingRebalance) || g->generation != generation) return;
  if (stored != ErrorCode::NONE) {
    reset_and_propagate_sync_error(*g, commit_error_for(stored));
    prepare_rebalance(*g, "storing the assignment failed");
    return;
  }
  for (auto& [id, m] : g->members) {
    auto a = assignments.find(id);
    m.assignment = a != assignments.end() ? a->second : std::vector<uint8_t>{};
  }
  t_.transition(*g, GroupState::Stable);
  for (auto& [id, m] : g->members)
    if (m.awaiting_sync) std::exchange(m.awaiting_sync, nullptr)(sync_ok(*g, m));
}

msg::SyncGroupResponse Rebalancer::sync_ok(const Group& g, const Member& m) const {
  msg::SyncGroupResponse r;
  r.error_code = to_wire(ErrorCode::NONE);
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol;
  r.assignment = m.assignment;
  return r;
}

// ---- Heartbeat, LeaveGroup ------------------------------------------------------------------

ErrorCode Rebalancer::heartbeat(const msg::HeartbeatRequest& req) {
  if (req.group_id.empty()) return ErrorCode::INVALID_GROUP_ID;
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) {
    // Kafka answers blindly while the group loads: the member's session starts once it is
    // loaded (every loaded member gets a fresh session timeout).
    return e == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode::NONE : e;
  }
  Group* g = t_.find(req.group_id);
  if (!g) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (g->is(GroupState::Dead)) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (auto e = g->validate_member(req.member_id, req.group_instance_id); e != ErrorCode::NONE) return e;
  if (req.generation_id != g->generation) return ErrorCode::ILLEGAL_GENERATION;
  switch (g->state()) {
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

msg::LeaveGroupResponse Rebalancer::leave_group(const msg::LeaveGroupRequest& req, int16_t version) {
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
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) return all(e);
  Group* g = t_.find(req.group_id);
  if (g && g->is(GroupState::Dead)) return all(ErrorCode::COORDINATOR_NOT_AVAILABLE);
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
      if (g->is(GroupState::PreparingRebalance)) maybe_complete_join(*g);
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

// ---- persistence ----------------------------------------------------------------------------

void Rebalancer::store_group(Group& g, const std::map<std::string, std::vector<uint8_t>>& assignments,
                             std::function<void(ErrorCode)> done) {
  rec::GroupMetadataValue v;
  v.protocol_type = g.protocol_type;
  v.generation = g.generation;
  v.protocol = g.protocol;
  v.leader = g.leader;
  v.current_state_timestamp = g.state_timestamp();
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
  t_.log.append(g.partition, {GroupRecord{encode_key(k), encode_value(v)}}, std::nullopt,
                [done = std::move(done)](Result<int64_t> r) { done(r.code()); });
}

}  // namespace kb::coordinator
