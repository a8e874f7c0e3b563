// The metadata quorum of a cluster node: a RaftNode (replication/raft/) on the metadata log,
// driven by its own thread, speaking Kafka's quorum APIs with the other voters: Vote and
// BeginQuorumEpoch, and Fetch of `__cluster_metadata-0` (replica id = the fetching voter).
//
// Committed entries (below the Raft high watermark) that carry metadata records are handed, in
// log order and exactly once per process, to the commit callback (the Controller applies them
// to its image).
//
// Snapshots (KRaft's): once metadata.log.max.record.bytes.between.snapshots bytes of entries
// were applied since the last snapshot, or metadata.log.max.snapshot.interval.ms passed with
// anything applied, the image is written as a snapshot (the snapshot callback gives its
// batches, right after the entry it ends with was applied) and the log before it is dropped.
// A voter or observer whose next entry the leader no longer has fetches the leader's
// snapshot (FetchSnapshot) and installs it; a snapshot, installed or found at start-up, is
// handed to the load callback before any later entry. Only the leader accepts proposals; it is the active controller once the
// marker of its own epoch is committed, i.e. once everything earlier is applied here.
//
// Fetch long-poll: a voter's Fetch that finds nothing new is parked up to its max_wait_ms and
// answered as soon as the log or the high watermark moves, so an idle quorum costs a few
// requests per second, and a committed change reaches the followers in one round trip.
//
// Positions on the wire (fetch offsets, high watermark, diverging end offsets, Vote's last
// offset) count entries (batches) of the metadata log, not records: only voters read them.
//
// Owner: the Broker of a node with controller.quorum.voters set (the Controller writes through
// it: controller/quorum_metadata_log.h). Threads: two LoopThreads of its own, one for the Raft
// node and its I/O, one that applies committed batches; every public method may be called
// from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/messages/begin_quorum_epoch_request.h"
#include "protocol/messages/begin_quorum_epoch_response.h"
#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/fetch_snapshot_request.h"
#include "protocol/messages/fetch_snapshot_response.h"
#include "protocol/messages/vote_request.h"
#include "protocol/messages/vote_response.h"
#include "protocol/types.h"
#include "replication/raft/raft.h"
#include "storage/log.h"

namespace kb::runtime {
class PeerClient;
}

namespace kb::raft {

// A voter of controller.quorum.voters: its node id and controller listener.
struct VoterAddress {
  int32_t id = 0;
  std::string host;
  uint16_t port = 0;
};

struct QuorumOptions {
  int32_t node_id = -1;
  std::vector<VoterAddress> voters;
  std::string cluster_id;
  raft::RaftConfig raft;
  int64_t fetch_max_wait_ms = 500;
  int64_t request_timeout_ms = 2000;
  int64_t tick_ms = 50;
  int64_t snapshot_max_bytes = 20971520;   // metadata.log.max.record.bytes.between.snapshots
  int64_t snapshot_interval_ms = 3600000;  // metadata.log.max.snapshot.interval.ms (0: no timer)
};

class Quorum {
 public:
  static constexpr const char* kTopic = "__cluster_metadata";
  // Committed metadata batches (RecordBatch bytes), in log order, with the record offset of
  // the last record of each.
  using CommitFn = std::function<void(const std::string& batch, int64_t last_record_offset)>;
  // Called on the quorum's thread when this node becomes or stops being the active controller.
  using ActiveFn = std::function<void(bool active)>;
  // A snapshot's metadata batches (RecordBatch bytes) with the record offset it ends at: the
  // image is to be replaced by the one they describe.
  using LoadFn = std::function<void(const std::vector<std::string>& batches, int64_t last_record_offset)>;
  // The image as metadata batches, when it is at `last_record_offset` (nothing otherwise).
  using SnapshotFn =
      std::function<std::optional<std::vector<std::vector<uint8_t>>>(int64_t last_record_offset)>;
  struct Callbacks {
    CommitFn on_commit;
    ActiveFn on_active;
    LoadFn on_load;
    SnapshotFn make_snapshot;
  };

  // Opens the Raft storage over `log` (the metadata partition) and starts the thread. The
  // latest snapshot and every entry committed after it are delivered again (the image is
  // rebuilt). Callbacks other than on_active run on the apply thread, in log order.
  static Result<std::unique_ptr<Quorum>> open(QuorumOptions options, std::shared_ptr<storage::Log> log,
                                              runtime::PeerClient& peers, Callbacks callbacks);
  ~Quorum();  // stop()
  void stop();

  // Appends one metadata batch as the leader; `done` gets the record offset of its last
  // record once it is committed and delivered to the commit callback, NOT_CONTROLLER when
  // this node does not lead (or loses leadership first), KAFKA_STORAGE_ERROR on a log failure.
  void propose(std::vector<uint8_t> batch, std::function<void(Result<int64_t>)> done);

  int32_t leader() const;  // -1: unknown
  int32_t epoch() const;
  bool active() const;  // the leader, with its own epoch committed and applied here
  // Record offsets of the metadata log: the last one delivered to the commit callback, and
  // the last one in the log (committed or not); -1 when none.
  int64_t applied_record_offset() const;
  int64_t log_end_record_offset() const;
  // The controller listener address of a voter (from controller.quorum.voters).
  std::optional<std::pair<std::string, uint16_t>> voter_address(int32_t id) const;

  // The answers to other voters' requests (the handlers of Vote, BeginQuorumEpoch and
  // Fetch of the metadata topic call these).
  void on_vote(msg::VoteRequest req, std::function<void(msg::VoteResponse)> respond);
  void on_begin_quorum_epoch(msg::BeginQuorumEpochRequest req,
                             std::function<void(msg::BeginQuorumEpochResponse)> respond);
  void on_fetch(const msg::FetchRequest& req, int16_t version, std::function<void(msg::FetchResponse)> respond);
  void on_fetch_snapshot(const msg::FetchSnapshotRequest& req, std::function<void(msg::FetchSnapshotResponse)> respond);
  // The Raft offset where the log starts (the latest snapshot's end; 0 without one).
  int64_t log_start() const;

 private:
  struct Impl;
  explicit Quorum(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::raft
