// JoinGroup: new members (MEMBER_ID_REQUIRED first, from v4), known members rejoining,
// static members (group.instance.id) taking over their old place, and the checks Kafka makes
// before any of them (group size, session timeout, protocols).
#include <spdlog/spdlog.h>

#include "coordinator/group/rebalance.h"
#include "protocol/wire.h"

namespace kb::coordinator {

namespace {

std::vector<Protocol> protocols_of(const msg::JoinGroupRequest& req) {
  std::vector<Protocol> out;
  for (const auto& p : req.protocols) out.push_back({p.name, p.metadata});
  return out;
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

}  // namespace

void Rebalancer::join_group(const msg::JoinGroupRequest& req, const ClientInfo& client, JoinCallback done) {
  if (req.group_id.empty()) return done(join_error(ErrorCode::INVALID_GROUP_ID, req.member_id));
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) return done(join_error(e, req.member_id));
  if (req.session_timeout_ms < t_.config.min_session_timeout_ms ||
      req.session_timeout_ms > t_.config.max_session_timeout_ms)
    return done(join_error(ErrorCode::INVALID_SESSION_TIMEOUT, req.member_id));
  // v0 has no rebalance timeout: the session timeout serves for both.
  const int32_t rebalance_timeout = req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  const bool unknown_member = req.member_id.empty();
  Group* existing = t_.find(req.group_id);
  if (!existing && !unknown_member) return done(join_error(ErrorCode::UNKNOWN_MEMBER_ID, req.member_id));
  Group& g = existing ? *existing : t_.get_or_create(req.group_id);
  if (!accept_joining_member(g, req.member_id)) {
    spdlog::info("group {}: refusing member {}: group.max.size {} reached", g.id, req.member_id, t_.config.max_size);
    return done(join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, req.member_id));
  }
  if (g.is(GroupState::Dead)) return done(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, req.member_id));
  if (!g.supports_protocols(req.protocol_type, protocols_of(req))) {
    discard_if_unused(g);
    return done(join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id));
  }
  if (unknown_member)
    join_unknown_member(g, req, client, rebalance_timeout, std::move(done));
  else
    join_known_member(g, req, client, rebalance_timeout, std::move(done));
}

bool Rebalancer::accept_joining_member(const Group& g, const std::string& member_id) const {
  switch (g.state()) {
    case GroupState::Empty:
    case GroupState::Dead:
      return true;
    case GroupState::PreparingRebalance: {
      auto it = g.members.find(member_id);
      return (it != g.members.end() && it->second.awaiting_join) || g.awaiting_join_count() < t_.config.max_size;
    }
    default:
      return g.has(member_id) || static_cast<int64_t>(g.members.size()) < t_.config.max_size;
  }
}

// A group created by a JoinGroup that was refused holds nothing: forget it.
void Rebalancer::discard_if_unused(Group& g) {
  if (g.is(GroupState::Empty) && g.members.empty() && g.offsets.empty() && g.generation == 0 &&
      g.pending_members.empty())
    t_.groups.erase(g.id);
}

Member& Rebalancer::add_member(Group& g, const std::string& member_id, const msg::JoinGroupRequest& req,
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
  if (g.is(GroupState::PreparingRebalance) && g.initial_delay) g.joined_during_delay = true;
  return it->second;
}

void Rebalancer::add_member_and_rebalance(Group& g, const std::string& member_id, const msg::JoinGroupRequest& req,
                                          const ClientInfo& client, int32_t rebalance_timeout, JoinCallback done) {
  add_member(g, member_id, req, client, rebalance_timeout, std::move(done));
  if (g.is(GroupState::PreparingRebalance))
    maybe_complete_join(g);
  else
    maybe_prepare_rebalance(g, "member " + member_id + " joined");
}

void Rebalancer::update_member_and_rebalance(Group& g, Member& m, const msg::JoinGroupRequest& req,
                                             const ClientInfo& client, int32_t rebalance_timeout, JoinCallback done) {
  m.protocols = protocols_of(req);
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms = rebalance_timeout;
  m.supports_skip_assignment = client.api_version >= 9;
  if (m.awaiting_join) std::exchange(m.awaiting_join, nullptr)(join_error(ErrorCode::REBALANCE_IN_PROGRESS, m.id));
  m.awaiting_join = std::move(done);
  schedule_session_timeout(g, m);
  if (g.is(GroupState::PreparingRebalance))
    maybe_complete_join(g);
  else
    maybe_prepare_rebalance(g, "member " + m.id + " rejoined with new metadata or as leader");
}

void Rebalancer::join_unknown_member(Group& g, const msg::JoinGroupRequest& req, const ClientInfo& client,
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
void Rebalancer::replace_static_member(Group& g, std::string old_id, const std::string& new_id,
                                       const msg::JoinGroupRequest& req, const ClientInfo& client,
                                       int32_t rebalance_timeout, JoinCallback done) {
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
  if (g.is(GroupState::Stable) && g.select_protocol() == g.protocol) {
    schedule_session_timeout(g, placed);
    const bool leader = g.is_leader(new_id);
    std::map<std::string, std::vector<uint8_t>> assignments;
    for (const auto& [id, mem] : g.members) assignments[id] = mem.assignment;
    // Persist the new member id before answering, so a coordinator move keeps it.
    store_group(g, assignments, [this, alive = t_.alive, gid = g.id, new_id, leader, done = std::move(done)](ErrorCode e) {
      auto keep = alive.lock();
      Group* grp = keep ? t_.find(gid) : nullptr;
      if (!grp || !grp->has(new_id)) return done(join_error(ErrorCode::UNKNOWN_MEMBER_ID, new_id));
      if (e != ErrorCode::NONE) return done(join_error(commit_error_for(e), new_id));
      const Member& mem = grp->members.at(new_id);
      done(current_generation_response(*grp, mem, leader, leader && mem.supports_skip_assignment));
    });
    return;
  }
  placed.awaiting_join = std::move(done);
  schedule_session_timeout(g, placed);
  if (g.is(GroupState::PreparingRebalance))
    maybe_complete_join(g);
  else
    maybe_prepare_rebalance(g, "static member " + *req.group_instance_id + " rejoined with new metadata");
}

void Rebalancer::join_known_member(Group& g, const msg::JoinGroupRequest& req, const ClientInfo& client,
                                   int32_t rebalance_timeout, JoinCallback done) {
  if (auto p = g.pending_members.find(req.member_id); p != g.pending_members.end()) {
    p->second->cancel();
    g.pending_members.erase(p);
    add_member_and_rebalance(g, req.member_id, req, client, rebalance_timeout, std::move(done));
    return;
  }
  if (auto e = g.validate_member(req.member_id, req.group_instance_id); e != ErrorCode::NONE)
    return done(join_error(e, req.member_id));
  Member& m = g.members.at(req.member_id);
  switch (g.state()) {
    case GroupState::PreparingRebalance:
      update_member_and_rebalance(g, m, req, client, rebalance_timeout, std::move(done));
      return;
    case GroupState::CompletingRebalance:
      if (m.protocols == protocols_of(req)) {
        // It did not see the JoinGroup answer of this generation: send it again.
        schedule_session_timeout(g, m);
        return done(current_generation_response(g, m, g.is_leader(m.id)));
      }
      update_member_and_rebalance(g, m, req, client, rebalance_timeout, std::move(done));
      return;
    case GroupState::Stable:
      if (g.is_leader(m.id) || m.protocols != protocols_of(req)) {
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

}  // namespace kb::coordinator
