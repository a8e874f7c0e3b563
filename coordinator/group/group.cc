#include "coordinator/group/group.h"

#include <algorithm>
#include <atomic>
#include <cctype>

#include <spdlog/spdlog.h>

#include "protocol/kb_assert.h"
#include "protocol/wire.h"

namespace kb::coordinator {

namespace {
constexpr std::pair<GroupState, std::string_view> kNames[] = {
    {GroupState::Empty, "Empty"},
    {GroupState::PreparingRebalance, "PreparingRebalance"},
    {GroupState::CompletingRebalance, "CompletingRebalance"},
    {GroupState::Stable, "Stable"},
    {GroupState::Dead, "Dead"},
};
}  // namespace

std::string_view state_name(GroupState s) {
  for (const auto& [state, name] : kNames)
    if (state == s) return name;
  return "Unknown";
}

std::optional<GroupState> parse_state(std::string_view name) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
  };
  for (const auto& [state, n] : kNames)
    if (lower(n) == lower(name)) return state;
  return std::nullopt;
}

bool is_legal_transition(GroupState from, GroupState to) {
  using S = GroupState;
  switch (to) {
    case S::Empty:
      return from == S::PreparingRebalance;
    case S::PreparingRebalance:
      return from == S::Stable || from == S::CompletingRebalance || from == S::Empty;
    case S::CompletingRebalance:
      return from == S::PreparingRebalance;
    case S::Stable:
      return from == S::CompletingRebalance;
    case S::Dead:
      return from != S::Dead;
  }
  return false;
}

namespace {
std::atomic<uint64_t> illegal_transitions{0};
}  // namespace

uint64_t illegal_group_transitions() { return illegal_transitions.load(); }

void Group::transition_to(GroupState to, int64_t now) {
  if (!is_legal_transition(state_, to)) {
    illegal_transitions.fetch_add(1);
    spdlog::error("group {}: illegal state transition {} -> {}", id, state_name(state_), state_name(to));
  }
  KB_ASSERT(is_legal_transition(state_, to), "a group moves only to a legal next state");
  state_ = to;
  state_timestamp_ = now;
}

void Group::restore_state(GroupState s, int64_t since) {
  state_ = s;
  state_timestamp_ = since;
}

const std::vector<uint8_t>* Member::metadata_for(std::string_view protocol) const {
  for (const auto& p : protocols)
    if (p.name == protocol) return &p.metadata;
  return nullptr;
}

ErrorCode Group::validate_member(const std::string& member_id, const std::optional<std::string>& instance_id) const {
  if (instance_id) {
    auto s = static_members.find(*instance_id);
    if (s != static_members.end() && s->second != member_id) return ErrorCode::FENCED_INSTANCE_ID;
  }
  if (!has(member_id)) return ErrorCode::UNKNOWN_MEMBER_ID;
  return ErrorCode::NONE;
}

bool Group::has_pending_txn_offset(const TopicPartition& tp) const {
  for (const auto& [producer, offsets] : pending_txn_offsets)
    if (offsets.count(tp)) return true;
  return false;
}

void Group::complete_txn(int64_t producer_id, bool committed) {
  auto it = pending_txn_offsets.find(producer_id);
  if (it == pending_txn_offsets.end()) return;
  if (committed)
    for (auto& [tp, c] : it->second) {
      auto current = offsets.find(tp);
      if (current == offsets.end() || current->second.log_offset < c.log_offset) offsets[tp] = std::move(c);
    }
  pending_txn_offsets.erase(it);
}

int Group::awaiting_join_count() const {
  int n = 0;
  for (const auto& [id, m] : members) n += m.awaiting_join ? 1 : 0;
  return n;
}

bool Group::all_members_joined() const {
  return pending_members.empty() && awaiting_join_count() == static_cast<int>(members.size());
}

int32_t Group::max_rebalance_timeout_ms() const {
  int32_t t = 0;
  for (const auto& [id, m] : members) t = std::max(t, m.rebalance_timeout_ms);
  return t;
}

std::vector<const Member*> Group::members_in_join_order() const {
  std::vector<const Member*> out;
  for (const auto& [id, m] : members) out.push_back(&m);
  std::sort(out.begin(), out.end(), [](const Member* a, const Member* b) { return a->join_order < b->join_order; });
  return out;
}

std::vector<std::string> Group::candidate_protocols() const {
  std::vector<std::string> out;
  auto ordered = members_in_join_order();
  if (ordered.empty()) return out;
  for (const auto& p : ordered.front()->protocols) {
    bool everyone = std::all_of(ordered.begin(), ordered.end(),
                                [&](const Member* m) { return m->metadata_for(p.name) != nullptr; });
    if (everyone) out.push_back(p.name);
  }
  return out;
}

std::optional<std::string> Group::select_protocol() const {
  auto candidates = candidate_protocols();
  if (candidates.empty()) return std::nullopt;
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members) {
    for (const auto& p : m.protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const auto& c : candidates)
    if (votes[c] > votes[best]) best = c;
  return best;
}

bool Group::supports_protocols(const std::string& type, const std::vector<Protocol>& protocols) const {
  if (members.empty()) return !type.empty() && !protocols.empty();
  if (type != protocol_type) return false;
  auto candidates = candidate_protocols();
  return std::any_of(protocols.begin(), protocols.end(), [&](const Protocol& p) {
    return std::find(candidates.begin(), candidates.end(), p.name) != candidates.end();
  });
}

std::optional<std::vector<std::string>> parse_consumer_subscription(const std::vector<uint8_t>& metadata) {
  // ConsumerProtocolSubscription: version int16, topics [string], then fields of later
  // versions (user data, owned partitions, generation, rack) that we do not need.
  wire::Reader r(std::span<const uint8_t>(metadata.data(), metadata.size()));
  int16_t version = r.read_int16();
  int32_t count = r.read_int32();
  if (!r.ok() || version < 0 || count < 0 || static_cast<size_t>(count) > r.remaining() / 2) return std::nullopt;
  std::vector<std::string> topics;
  for (int32_t i = 0; i < count; ++i) {
    topics.push_back(r.read_string());
    if (!r.ok()) return std::nullopt;
  }
  return topics;
}

std::optional<std::set<std::string>> Group::subscribed_topics() const {
  if (protocol_type != "consumer" || members.empty()) return std::nullopt;
  std::set<std::string> topics;
  for (const auto& [id, m] : members) {
    const std::vector<uint8_t>* meta = protocol ? m.metadata_for(*protocol) : nullptr;
    if (!meta && !m.protocols.empty()) meta = &m.protocols.front().metadata;
    if (!meta) return std::nullopt;
    auto t = parse_consumer_subscription(*meta);
    if (!t) return std::nullopt;
    topics.insert(t->begin(), t->end());
  }
  return topics;
}

}  // namespace kb::coordinator
