// The Raft quorum of the cluster metadata log, as a deterministic state machine (KRaft's
// design: pull-based replication through Fetch, leader epochs, pre-vote, check-quorum).
//
// A RaftNode never does I/O or reads a clock by itself: the owner feeds it time (tick),
// messages from the other voters (receive) and proposals, and sends what it leaves in its
// outbox. The durable part (epoch, vote, log) lives behind RaftStorage, which must be durable
// when a call returns. This makes the same code run in the broker (messages carried by
// Kafka's Vote / BeginQuorumEpoch / Fetch APIs, storage = the metadata log) and in the
// deterministic simulation test (tests/unit/replication/raft_simulation_test.cc), which
// drives it through message loss, delay, reordering, crashes and partitions.
//
// Safety (proved by Raft, checked by the simulation): one leader per epoch; logs that agree
// on (offset, epoch) agree on everything before; an entry below a leader's high watermark is
// in the log of every later leader; the high watermark never goes back.
//
// A node whose id is not among the voters is an observer (a broker with process.roles=broker):
// it never votes or stands for election; it finds the leader by fetching from the voters in
// turn (a voter that does not lead answers with the leader it knows) and then follows it like
// a voter does, without counting towards the high watermark.
//
// Owner: the Quorum (replication/raft/quorum.h). Thread-safety: none; one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace kb::raft {

struct Entry {
  int32_t epoch = 0;
  std::string data;  // empty: the leader's epoch-start marker (KRaft's LeaderChange record)
  bool operator==(const Entry&) const = default;
};

// A snapshot of the state machine: every entry below end_offset applied, the last of them in
// `epoch` (KRaft's OffsetAndEpoch of a snapshot).
struct SnapshotId {
  int64_t end_offset = 0;
  int32_t epoch = 0;
  bool operator==(const SnapshotId&) const = default;
};

// Epoch and vote, the log and its snapshots. Offsets start at 0; end_offset() is the next
// offset. Entries below start_offset() are gone from the log: the latest snapshot holds them
// (start_offset() is its end offset; 0 when there is no snapshot).
class RaftStorage {
 public:
  virtual ~RaftStorage() = default;
  virtual int32_t epoch() const = 0;
  virtual int32_t voted_for() const = 0;  // -1: none in this epoch
  virtual void set_election_state(int32_t epoch, int32_t voted_for) = 0;
  virtual int64_t end_offset() const = 0;
  virtual const Entry& entry(int64_t offset) const = 0;  // start_offset() <= offset < end_offset()
  virtual void append(const Entry& e) = 0;
  virtual void truncate(int64_t end) = 0;  // drops every entry at or after `end` (>= start_offset())

  virtual int64_t start_offset() const = 0;
  virtual std::optional<SnapshotId> snapshot() const = 0;  // the latest
  // The bytes of the latest snapshot (what a follower installs), empty when there is none.
  virtual const std::string& snapshot_data() const = 0;
  // Keeps a snapshot of this node's own committed entries below id.end_offset (which are in
  // the log) and drops those entries from the log: the start offset becomes id.end_offset.
  virtual void save_snapshot(const SnapshotId& id, std::string data) = 0;
  // A snapshot from the leader replaces the whole log: the log is empty afterwards and starts
  // at id.end_offset.
  virtual void install_snapshot(const SnapshotId& id, std::string data) = 0;
};

// Messages between voters (their wire forms are Kafka's Vote, BeginQuorumEpoch and Fetch).
struct VoteRequest {
  int32_t epoch = 0;  // the epoch the candidate asks for
  int32_t candidate = -1;
  int32_t last_epoch = 0;  // of the candidate's last entry
  int64_t end_offset = 0;
  bool pre_vote = false;  // KIP-996: ask first, without disturbing anyone's epoch
};
struct VoteResponse {
  int32_t epoch = 0;  // the voter's epoch
  bool granted = false;
  bool pre_vote = false;
  int32_t leader = -1;  // the leader the voter follows in `epoch`, so a lost voter finds it
};
struct BeginQuorumEpoch {
  int32_t epoch = 0;
  int32_t leader = -1;
};
struct FetchRequest {
  int32_t epoch = 0;
  int32_t replica = -1;
  int64_t fetch_offset = 0;       // the follower's log end offset
  int32_t last_fetched_epoch = 0;  // epoch of the entry before fetch_offset (0: none)
};
struct FetchResponse {
  int32_t epoch = 0;
  int32_t leader = -1;
  bool fenced = false;             // the request's epoch was stale
  int64_t fetch_offset = 0;        // echoed: entries start here
  std::optional<std::pair<int32_t, int64_t>> diverging;  // (epoch, end offset) to truncate to
  // The fetch offset is below the leader's log start (or diverges below it): fetch this
  // snapshot instead (KRaft's Fetch SnapshotId, then FetchSnapshot).
  std::optional<SnapshotId> snapshot;
  std::vector<Entry> entries;
  int64_t high_watermark = 0;
};
struct FetchSnapshotRequest {
  int32_t epoch = 0;
  int32_t replica = -1;
  SnapshotId id;
  int64_t position = 0;  // byte position in the snapshot
};
struct FetchSnapshotResponse {
  int32_t epoch = 0;
  int32_t leader = -1;
  bool fenced = false;     // the request's epoch was stale, or this node does not lead
  bool not_found = false;  // no such snapshot (a newer one replaced it): fetch again
  SnapshotId id;
  int64_t size = 0;      // of the whole snapshot
  int64_t position = 0;  // where `bytes` starts
  std::string bytes;
};
using Message = std::variant<VoteRequest, VoteResponse, BeginQuorumEpoch, FetchRequest, FetchResponse,
                             FetchSnapshotRequest, FetchSnapshotResponse>;

struct Outgoing {
  int32_t to = -1;
  Message message;
};

struct RaftConfig {
  int64_t election_timeout_ms = 1000;  // controller.quorum.election.timeout.ms; randomized in [T, 2T)
  int64_t fetch_timeout_ms = 2000;     // controller.quorum.fetch.timeout.ms: leader silent this long -> election
  int64_t fetch_resend_ms = 100;       // a follower re-sends a Fetch unanswered this long
  int32_t max_fetch_entries = 64;
  int32_t max_snapshot_chunk_bytes = 1 << 20;  // per FetchSnapshot answer
};

enum class Role { Unattached, Follower, Prospective, Candidate, Leader };
const char* role_name(Role r);

class RaftNode {
 public:
  RaftNode(int32_t id, std::vector<int32_t> voters, RaftConfig config, RaftStorage& storage, uint64_t seed,
           int64_t now_ms);

  void tick(int64_t now_ms);
  void receive(int32_t from, const Message& m, int64_t now_ms);
  // Appends `data` (not empty) as the leader; the offset it got, or -1 when not the leader.
  int64_t propose(std::string data, int64_t now_ms);

  std::vector<Outgoing> take_outbox();

  // The owner's snapshot of its state machine with every entry below `end_offset` applied:
  // kept by the storage, and the log before it dropped. Only committed entries may be in a
  // snapshot: false (nothing done) unless start_offset() < end_offset <= high_watermark().
  bool snapshot(int64_t end_offset, std::string data);

  Role role() const { return role_; }
  int32_t id() const { return id_; }
  bool observer() const { return observer_; }
  int32_t epoch() const { return storage_.epoch(); }
  int32_t leader() const { return leader_; }  // -1: unknown
  int64_t high_watermark() const { return high_watermark_; }
  const RaftStorage& storage() const { return storage_; }

 private:
  size_t majority() const { return voters_.size() / 2 + 1; }
  int index_of(int32_t voter) const;
  int32_t last_epoch() const;
  // The largest offset + 1 of entries with epoch <= `epoch`, and the epoch of the last such
  // entry (KRaft's endOffsetForEpoch). (0, 0) when none.
  std::pair<int32_t, int64_t> end_offset_for_epoch(int32_t epoch) const;
  bool log_up_to_date(int32_t last_epoch, int64_t end_offset) const;

  void reset_election_deadline(int64_t now_ms);
  void become_unattached(int32_t epoch, int64_t now_ms);
  void become_follower(int32_t epoch, int32_t leader, int64_t now_ms);
  // An answer from a newer epoch: follow its leader when it names one, else wait unattached.
  void enter_newer_epoch(int32_t epoch, int32_t leader, int64_t now_ms);
  void become_prospective(int64_t now_ms);
  void become_candidate(int64_t now_ms);
  void become_leader(int64_t now_ms);
  void send(int32_t to, Message m) { outbox_.push_back({to, std::move(m)}); }
  void send_fetch(int64_t now_ms);
  void maybe_advance_high_watermark();

  void on_vote_request(int32_t from, const VoteRequest& r, int64_t now_ms);
  void on_vote_response(int32_t from, const VoteResponse& r, int64_t now_ms);
  void on_begin_epoch(const BeginQuorumEpoch& r, int64_t now_ms);
  void on_fetch(int32_t from, const FetchRequest& r, int64_t now_ms);
  void on_fetch_response(int32_t from, const FetchResponse& r, int64_t now_ms);
  void on_fetch_snapshot(int32_t from, const FetchSnapshotRequest& r, int64_t now_ms);
  void on_fetch_snapshot_response(int32_t from, const FetchSnapshotResponse& r, int64_t now_ms);
  // A response from the leader we follow in this epoch: whether to act on it (and it counts
  // as contact); handles fenced answers and answers from someone else.
  bool accept_from_leader(int32_t from, int32_t epoch, int32_t leader, bool fenced, int64_t now_ms);

  // An observer without a leader: asks the next voter (round robin) who leads.
  void send_discovery_fetch(int64_t now_ms);
  // Looking for a leader: a voter holds an election, an observer asks around.
  void lose_leader(int64_t now_ms);

  const int32_t id_;
  const std::vector<int32_t> voters_;
  const bool observer_;
  size_t next_discovery_ = 0;
  const RaftConfig config_;
  RaftStorage& storage_;
  std::mt19937_64 rng_;

  Role role_ = Role::Unattached;
  int32_t leader_ = -1;
  int64_t high_watermark_ = 0;
  int64_t election_deadline_ = 0;
  int64_t last_leader_contact_ = -1;  // when we last heard from a leader (pre-vote stickiness)
  // The leader of this epoch we gave up on (it stopped answering, or said it no longer
  // leads): vote answers naming it are second-hand news and are not followed again, or
  // voters could keep handing a dead leader back to each other.
  int32_t abandoned_leader_ = -1;
  std::set<int32_t> votes_;           // granted pre-votes or votes in this round
  // Follower: the snapshot being fetched (the leader's log no longer has our next entry).
  struct PendingSnapshot {
    SnapshotId id;
    std::string bytes;  // received so far
  };
  std::optional<PendingSnapshot> pending_snapshot_;
  // Follower: the outstanding Fetch (or FetchSnapshot).
  bool fetch_in_flight_ = false;
  int64_t fetch_sent_at_ = 0;
  // Leader: per voter, the end offset it has acknowledged and when it last fetched.
  std::vector<int64_t> match_;
  std::vector<int64_t> last_fetch_;
  std::vector<int64_t> last_begin_sent_;
  std::vector<Outgoing> outbox_;
};

}  // namespace kb::raft
