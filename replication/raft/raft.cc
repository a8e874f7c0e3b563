#include "replication/raft/raft.h"

#include <algorithm>
#include <utility>

namespace kb::raft {

const char* role_name(Role r) {
  switch (r) {
    case Role::Unattached: return "unattached";
    case Role::Follower: return "follower";
    case Role::Prospective: return "prospective";
    case Role::Candidate: return "candidate";
    case Role::Leader: return "leader";
  }
  return "?";
}

RaftNode::RaftNode(int32_t id, std::vector<int32_t> voters, RaftConfig config, RaftStorage& storage, uint64_t seed,
                   int64_t now_ms)
    : id_(id),
      voters_(std::move(voters)),
      observer_(std::find(voters_.begin(), voters_.end(), id) == voters_.end()),
      config_(config),
      storage_(storage),
      rng_(seed) {
  match_.assign(voters_.size(), 0);
  last_fetch_.assign(voters_.size(), 0);
  last_begin_sent_.assign(voters_.size(), 0);
  // A snapshot holds only committed entries.
  high_watermark_ = storage_.start_offset();
  // A restart forgets the leader: wait for it (BeginQuorumEpoch, a Fetch answer) or elect one.
  reset_election_deadline(now_ms);
}

int RaftNode::index_of(int32_t voter) const {
  for (size_t i = 0; i < voters_.size(); ++i)
    if (voters_[i] == voter) return static_cast<int>(i);
  return -1;
}

int32_t RaftNode::last_epoch() const {
  int64_t end = storage_.end_offset();
  if (end > storage_.start_offset()) return storage_.entry(end - 1).epoch;
  auto snap = storage_.snapshot();
  return snap ? snap->epoch : 0;
}

std::pair<int32_t, int64_t> RaftNode::end_offset_for_epoch(int32_t epoch) const {
  const int64_t start = storage_.start_offset();
  for (int64_t o = storage_.end_offset() - 1; o >= start; --o) {
    int32_t e = storage_.entry(o).epoch;
    if (e <= epoch) return {e, o + 1};
  }
  // Below the log: the snapshot's last entry, when its epoch is old enough. Otherwise the
  // answer lies inside the snapshot, somewhere below the start: (0, 0) says so.
  if (auto snap = storage_.snapshot(); snap && snap->epoch <= epoch) return {snap->epoch, start};
  return {0, 0};
}

bool RaftNode::log_up_to_date(int32_t last_epoch, int64_t end_offset) const {
  int32_t mine = this->last_epoch();
  return last_epoch > mine || (last_epoch == mine && end_offset >= storage_.end_offset());
}

void RaftNode::reset_election_deadline(int64_t now_ms) {
  std::uniform_int_distribution<int64_t> jitter(0, config_.election_timeout_ms - 1);
  election_deadline_ = now_ms + config_.election_timeout_ms + jitter(rng_);
}

void RaftNode::become_unattached(int32_t epoch, int64_t now_ms) {
  pending_snapshot_.reset();
  if (epoch > storage_.epoch()) {
    storage_.set_election_state(epoch, -1);
    abandoned_leader_ = -1;
  }
  role_ = Role::Unattached;
  leader_ = -1;
  votes_.clear();
  fetch_in_flight_ = false;
  reset_election_deadline(now_ms);
}

void RaftNode::become_follower(int32_t epoch, int32_t leader, int64_t now_ms) {
  if (epoch > storage_.epoch()) {
    storage_.set_election_state(epoch, -1);
    abandoned_leader_ = -1;
  }
  // A snapshot being fetched from another leader (or in another epoch) may no longer exist:
  // the new leader names its own.
  if (role_ != Role::Follower || leader_ != leader || epoch != storage_.epoch()) pending_snapshot_.reset();
  role_ = Role::Follower;
  leader_ = leader;
  votes_.clear();
  last_leader_contact_ = now_ms;
  fetch_in_flight_ = false;
  send_fetch(now_ms);
}

void RaftNode::enter_newer_epoch(int32_t epoch, int32_t leader, int64_t now_ms) {
  if (leader >= 0)
    become_follower(epoch, leader, now_ms);
  else
    become_unattached(epoch, now_ms);
}

void RaftNode::become_prospective(int64_t now_ms) {
  pending_snapshot_.reset();
  role_ = Role::Prospective;
  leader_ = -1;
  votes_ = {id_};
  fetch_in_flight_ = false;
  reset_election_deadline(now_ms);
  if (votes_.size() >= majority()) return become_candidate(now_ms);
  for (int32_t v : voters_)
    if (v != id_) send(v, VoteRequest{storage_.epoch() + 1, id_, last_epoch(), storage_.end_offset(), true});
}

void RaftNode::become_candidate(int64_t now_ms) {
  int32_t epoch = storage_.epoch() + 1;
  storage_.set_election_state(epoch, id_);
  abandoned_leader_ = -1;
  role_ = Role::Candidate;
  leader_ = -1;
  votes_ = {id_};
  reset_election_deadline(now_ms);
  if (votes_.size() >= majority()) return become_leader(now_ms);
  for (int32_t v : voters_)
    if (v != id_) send(v, VoteRequest{epoch, id_, last_epoch(), storage_.end_offset(), false});
}

void RaftNode::become_leader(int64_t now_ms) {
  pending_snapshot_.reset();
  role_ = Role::Leader;
  leader_ = id_;
  votes_.clear();
  std::fill(match_.begin(), match_.end(), 0);
  // Every voter gets a full check-quorum period to start fetching.
  std::fill(last_fetch_.begin(), last_fetch_.end(), now_ms);
  std::fill(last_begin_sent_.begin(), last_begin_sent_.end(), now_ms);
  // An entry of the new epoch: only entries of its own epoch let a leader move the high
  // watermark, and this one carries the older entries with it.
  storage_.append(Entry{storage_.epoch(), ""});
  for (int32_t v : voters_)
    if (v != id_) send(v, BeginQuorumEpoch{storage_.epoch(), id_});
  maybe_advance_high_watermark();
}

void RaftNode::send_discovery_fetch(int64_t now_ms) {
  if (voters_.empty()) return;
  int32_t to = voters_[next_discovery_++ % voters_.size()];
  send(to, FetchRequest{storage_.epoch(), id_, storage_.end_offset(), last_epoch()});
  fetch_in_flight_ = true;
  fetch_sent_at_ = now_ms;
}

void RaftNode::lose_leader(int64_t now_ms) {
  if (observer_) {
    become_unattached(storage_.epoch(), now_ms);
    send_discovery_fetch(now_ms);
  } else {
    become_prospective(now_ms);
  }
}

void RaftNode::send_fetch(int64_t now_ms) {
  if (leader_ < 0 || leader_ == id_) return;
  if (pending_snapshot_)
    send(leader_, FetchSnapshotRequest{storage_.epoch(), id_, pending_snapshot_->id,
                                       static_cast<int64_t>(pending_snapshot_->bytes.size())});
  else
    send(leader_, FetchRequest{storage_.epoch(), id_, storage_.end_offset(), last_epoch()});
  fetch_in_flight_ = true;
  fetch_sent_at_ = now_ms;
}

void RaftNode::maybe_advance_high_watermark() {
  std::vector<int64_t> ends;
  for (size_t i = 0; i < voters_.size(); ++i)
    ends.push_back(voters_[i] == id_ ? storage_.end_offset() : match_[i]);
  std::sort(ends.begin(), ends.end(), std::greater<>());
  int64_t candidate = ends[majority() - 1];
  if (candidate > high_watermark_ && storage_.entry(candidate - 1).epoch == storage_.epoch())
    high_watermark_ = candidate;
}

void RaftNode::tick(int64_t now_ms) {
  switch (role_) {
    case Role::Leader: {
      // Check quorum: a leader no majority fetches from steps down, so a partitioned leader
      // does not go on accepting proposals it can never commit.
      size_t alive = 0;
      for (size_t i = 0; i < voters_.size(); ++i) {
        if (voters_[i] == id_ || now_ms - last_fetch_[i] < config_.fetch_timeout_ms) ++alive;
        // A voter that does not fetch may have missed BeginQuorumEpoch: say it again.
        else if (now_ms - last_begin_sent_[i] >= config_.election_timeout_ms / 2) {
          send(voters_[i], BeginQuorumEpoch{storage_.epoch(), id_});
          last_begin_sent_[i] = now_ms;
        }
      }
      if (alive < majority()) become_unattached(storage_.epoch(), now_ms);
      return;
    }
    case Role::Follower:
      if (now_ms - last_leader_contact_ >= config_.fetch_timeout_ms) {
        abandoned_leader_ = leader_;
        return lose_leader(now_ms);
      }
      if (!fetch_in_flight_ || now_ms - fetch_sent_at_ >= config_.fetch_resend_ms) send_fetch(now_ms);
      return;
    case Role::Unattached:
    case Role::Prospective:
    case Role::Candidate:
      if (observer_) {
        if (!fetch_in_flight_ || now_ms - fetch_sent_at_ >= config_.fetch_resend_ms) send_discovery_fetch(now_ms);
        return;
      }
      // The only voter (a lone broker, KRaft's combined single node) has nobody to wait for:
      // it stands at its first tick and, being a majority by itself, leads.
      if (role_ != Role::Candidate && voters_.size() == 1 && voters_.front() == id_) return become_candidate(now_ms);
      // KIP-996: a candidate whose election times out asks again with a pre-vote.
      if (now_ms >= election_deadline_) become_prospective(now_ms);
      return;
  }
}

void RaftNode::receive(int32_t from, const Message& m, int64_t now_ms) {
  // Only voters take part; observers may fetch.
  if (index_of(from) < 0 && !std::holds_alternative<FetchRequest>(m) && !std::holds_alternative<FetchSnapshotRequest>(m))
    return;
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, VoteRequest>) on_vote_request(from, msg, now_ms);
        else if constexpr (std::is_same_v<T, VoteResponse>) on_vote_response(from, msg, now_ms);
        else if constexpr (std::is_same_v<T, BeginQuorumEpoch>) on_begin_epoch(msg, now_ms);
        else if constexpr (std::is_same_v<T, FetchRequest>) on_fetch(from, msg, now_ms);
        else if constexpr (std::is_same_v<T, FetchResponse>) on_fetch_response(from, msg, now_ms);
        else if constexpr (std::is_same_v<T, FetchSnapshotRequest>) on_fetch_snapshot(from, msg, now_ms);
        else on_fetch_snapshot_response(from, msg, now_ms);
      },
      m);
}

void RaftNode::on_vote_request(int32_t from, const VoteRequest& r, int64_t now_ms) {
  if (observer_) {  // not a voter: no say in elections
    send(from, VoteResponse{storage_.epoch(), false, r.pre_vote, leader_});
    return;
  }
  if (r.pre_vote) {
    // A pre-vote changes nothing here. It is refused while a leader is alive (so a voter that
    // was cut off cannot depose a working leader when it returns) and to a stale log.
    bool leader_alive = role_ == Role::Leader ||
                        (role_ == Role::Follower && now_ms - last_leader_contact_ < config_.fetch_timeout_ms);
    bool granted = r.epoch > storage_.epoch() && !leader_alive && log_up_to_date(r.last_epoch, r.end_offset);
    send(from, VoteResponse{storage_.epoch(), granted, true, leader_});
    return;
  }
  if (r.epoch < storage_.epoch()) {
    send(from, VoteResponse{storage_.epoch(), false, false, leader_});
    return;
  }
  if (r.epoch > storage_.epoch()) become_unattached(r.epoch, now_ms);
  int32_t voted = storage_.voted_for();
  bool granted = role_ != Role::Leader && (voted == -1 || voted == r.candidate) &&
                 log_up_to_date(r.last_epoch, r.end_offset);
  if (granted) {
    // Durable before the answer: a voter that forgot its vote could vote twice in one epoch.
    if (voted == -1) storage_.set_election_state(storage_.epoch(), r.candidate);
    reset_election_deadline(now_ms);
  }
  send(from, VoteResponse{storage_.epoch(), granted, false, leader_});
}

void RaftNode::on_vote_response(int32_t from, const VoteResponse& r, int64_t now_ms) {
  if (r.epoch > storage_.epoch()) return enter_newer_epoch(r.epoch, r.leader, now_ms);
  if (r.epoch == storage_.epoch() && r.leader >= 0 && r.leader != id_ && r.leader != abandoned_leader_ &&
      (role_ == Role::Prospective || role_ == Role::Unattached)) {
    become_follower(r.epoch, r.leader, now_ms);  // there is a leader: follow it
    return;
  }
  if (!r.granted) return;
  if (r.pre_vote && role_ == Role::Prospective) {
    votes_.insert(from);
    if (votes_.size() >= majority()) become_candidate(now_ms);
  } else if (!r.pre_vote && role_ == Role::Candidate && r.epoch == storage_.epoch()) {
    votes_.insert(from);
    if (votes_.size() >= majority()) become_leader(now_ms);
  }
}

void RaftNode::on_begin_epoch(const BeginQuorumEpoch& r, int64_t now_ms) {
  if (r.epoch < storage_.epoch()) return;
  if (r.epoch == storage_.epoch() && (role_ == Role::Leader || (role_ == Role::Follower && leader_ == r.leader)))
    return;
  abandoned_leader_ = -1;  // first-hand: the leader itself
  become_follower(r.epoch, r.leader, now_ms);
}

void RaftNode::on_fetch(int32_t from, const FetchRequest& r, int64_t now_ms) {
  if (r.epoch > storage_.epoch()) {
    // The fetcher follows a newer leader than we know of: we are not the leader any more.
    become_unattached(r.epoch, now_ms);
    return;
  }
  if (r.epoch < storage_.epoch() || role_ != Role::Leader) {
    FetchResponse resp;
    resp.epoch = storage_.epoch();
    resp.leader = leader_;
    resp.fenced = true;
    send(from, std::move(resp));
    return;
  }
  FetchResponse resp;
  resp.epoch = storage_.epoch();
  resp.leader = id_;
  resp.fetch_offset = r.fetch_offset;
  resp.high_watermark = high_watermark_;
  const int64_t start = storage_.start_offset();
  const auto snap = storage_.snapshot();
  if (r.fetch_offset < start) {
    // What the follower needs next is only in our snapshot.
    resp.snapshot = snap;
    send(from, std::move(resp));
    return;
  }
  const bool at_snapshot = snap && r.fetch_offset == start && r.last_fetched_epoch == snap->epoch;
  if (r.fetch_offset > 0 && !at_snapshot) {
    // The follower's log must match ours up to fetch_offset; if not, tell it where ours ends
    // for its last epoch, and it truncates to there (or, when that is inside our snapshot,
    // it takes the snapshot).
    auto [e, end] = end_offset_for_epoch(r.last_fetched_epoch);
    if (e != r.last_fetched_epoch || end < r.fetch_offset) {
      if (end < start) resp.snapshot = snap;
      else resp.diverging = std::make_pair(e, end);
      send(from, std::move(resp));
      return;
    }
  }
  // Observers are served alike, but only voters' progress counts for the high watermark.
  if (int idx = index_of(from); idx >= 0) {
    match_[static_cast<size_t>(idx)] = r.fetch_offset;
    last_fetch_[static_cast<size_t>(idx)] = now_ms;
    maybe_advance_high_watermark();
  }
  // After this fetch's own progress is counted: the follower whose fetch commits an entry
  // learns so in this answer, not one long-poll later.
  resp.high_watermark = high_watermark_;
  for (int64_t o = r.fetch_offset; o < storage_.end_offset() && static_cast<int32_t>(resp.entries.size()) <
                                                                      config_.max_fetch_entries;
       ++o)
    resp.entries.push_back(storage_.entry(o));
  send(from, std::move(resp));
}

bool RaftNode::accept_from_leader(int32_t from, int32_t epoch, int32_t leader, bool fenced, int64_t now_ms) {
  if (epoch > storage_.epoch()) {
    enter_newer_epoch(epoch, leader, now_ms);
    return false;
  }
  if (epoch < storage_.epoch()) return false;
  if (fenced) {
    // The voter we follow does not lead this epoch (it restarted, or resigned): it never
    // will again, so look for the new leader now rather than after the fetch timeout.
    if (role_ == Role::Follower && from == leader_ && leader != leader_) {
      abandoned_leader_ = leader_;
      if (leader >= 0)
        become_follower(epoch, leader, now_ms);
      else
        lose_leader(now_ms);
    } else if (observer_ && role_ != Role::Follower) {
      // An answer to a discovery fetch: follow the leader it names, or ask the next voter.
      fetch_in_flight_ = false;
      if (leader >= 0 && leader != id_) become_follower(epoch, leader, now_ms);
    }
    return false;
  }
  if (leader < 0) return false;
  if (role_ != Role::Follower || leader_ != leader) {
    if (role_ != Role::Leader) become_follower(epoch, leader, now_ms);
    return false;
  }
  fetch_in_flight_ = false;
  last_leader_contact_ = now_ms;
  return true;
}

void RaftNode::on_fetch_response(int32_t from, const FetchResponse& r, int64_t now_ms) {
  if (!accept_from_leader(from, r.epoch, r.leader, r.fenced, now_ms)) return;
  if (pending_snapshot_) {
    // A Fetch answered after we turned to a snapshot: the snapshot comes first.
  } else if (r.fetch_offset != storage_.end_offset()) {
    // The answer to an earlier fetch (delayed, or a duplicate): it says nothing about the log
    // as it is now; acting on its divergence could cut committed entries.
  } else if (r.snapshot) {
    pending_snapshot_ = PendingSnapshot{*r.snapshot, {}};
  } else if (r.diverging) {
    auto [e, end] = *r.diverging;
    // Never into our own snapshot: it holds committed entries only, which the leader has.
    int64_t to = std::max(storage_.start_offset(), std::min(end, end_offset_for_epoch(e).second));
    if (to < storage_.end_offset()) storage_.truncate(to);
  } else {
    for (const auto& e : r.entries) storage_.append(e);
    high_watermark_ = std::max(high_watermark_, std::min(r.high_watermark, storage_.end_offset()));
  }
  send_fetch(now_ms);
}

void RaftNode::on_fetch_snapshot(int32_t from, const FetchSnapshotRequest& r, int64_t now_ms) {
  if (r.epoch > storage_.epoch()) {
    become_unattached(r.epoch, now_ms);
    return;
  }
  FetchSnapshotResponse resp;
  resp.epoch = storage_.epoch();
  resp.leader = leader_;
  resp.id = r.id;
  if (r.epoch < storage_.epoch() || role_ != Role::Leader) {
    resp.fenced = true;
    send(from, std::move(resp));
    return;
  }
  // A follower taking a snapshot is alive (check quorum), though not yet caught up.
  if (int idx = index_of(from); idx >= 0) last_fetch_[static_cast<size_t>(idx)] = now_ms;
  auto snap = storage_.snapshot();
  const std::string& data = storage_.snapshot_data();
  if (!snap || !(*snap == r.id) || r.position < 0 || r.position > static_cast<int64_t>(data.size())) {
    resp.not_found = true;
    send(from, std::move(resp));
    return;
  }
  resp.size = static_cast<int64_t>(data.size());
  resp.position = r.position;
  resp.bytes = data.substr(static_cast<size_t>(r.position), static_cast<size_t>(config_.max_snapshot_chunk_bytes));
  send(from, std::move(resp));
}

void RaftNode::on_fetch_snapshot_response(int32_t from, const FetchSnapshotResponse& r, int64_t now_ms) {
  if (!accept_from_leader(from, r.epoch, r.leader, r.fenced, now_ms)) return;
  if (!pending_snapshot_ || !(pending_snapshot_->id == r.id)) {
    // Late, or for a snapshot we gave up on.
  } else if (r.not_found) {
    pending_snapshot_.reset();  // fetch again: the leader names its current snapshot
  } else if (r.position == static_cast<int64_t>(pending_snapshot_->bytes.size())) {
    pending_snapshot_->bytes += r.bytes;
    if (static_cast<int64_t>(pending_snapshot_->bytes.size()) >= r.size) {
      SnapshotId id = pending_snapshot_->id;
      storage_.install_snapshot(id, std::move(pending_snapshot_->bytes));
      pending_snapshot_.reset();
      high_watermark_ = std::max(high_watermark_, id.end_offset);
    }
  }
  send_fetch(now_ms);
}

bool RaftNode::snapshot(int64_t end_offset, std::string data) {
  if (end_offset <= storage_.start_offset() || end_offset > high_watermark_ || end_offset > storage_.end_offset())
    return false;
  storage_.save_snapshot(SnapshotId{end_offset, storage_.entry(end_offset - 1).epoch}, std::move(data));
  return true;
}

int64_t RaftNode::propose(std::string data, int64_t now_ms) {
  (void)now_ms;
  if (role_ != Role::Leader || data.empty()) return -1;
  int64_t offset = storage_.end_offset();
  storage_.append(Entry{storage_.epoch(), std::move(data)});
  maybe_advance_high_watermark();
  return offset;
}

std::vector<Outgoing> RaftNode::take_outbox() { return std::exchange(outbox_, {}); }

}  // namespace kb::raft
