// RaftStorage over the metadata partition log (`__cluster_metadata-0`) and its quorum-state
// file: what a voter must never forget.
//
// One Raft entry is one RecordBatch of the log, in Kafka's layout: the batch's partition
// leader epoch is the entry's epoch; a leader's epoch-start marker is a control batch with a
// LeaderChange record (type 2); every other entry is a batch of metadata records as the
// controller built it. Raft positions (RaftNode offsets, the quorum's Fetch offsets, its high
// watermark) count entries; the batches' own record offsets are those of the log, so the file
// reads like Kafka's metadata log. The entries are also kept in memory (the metadata log is
// small, and the node reads any entry at any time).
//
// Durability: append and truncate fsync the log, set_election_state writes `quorum-state`
// (tmp file, fsync, rename) before returning, as a vote must survive a crash.
//
// Owner: the Quorum (server/quorum.h). Thread-safety: none; the quorum's thread only.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "protocol/types.h"
#include "replication/raft/raft.h"
#include "storage/log.h"

namespace kb::raft {

class LogRaftStorage final : public RaftStorage {
 public:
  // Reads every batch of `log` into memory and the election state from `<log dir>/quorum-state`
  // (epoch 0, no vote when absent). CORRUPT_MESSAGE for an unreadable state file.
  static Result<std::unique_ptr<LogRaftStorage>> open(std::shared_ptr<storage::Log> log);

  int32_t epoch() const override { return epoch_; }
  int32_t voted_for() const override { return voted_for_; }
  void set_election_state(int32_t epoch, int32_t voted_for) override;
  int64_t end_offset() const override { return static_cast<int64_t>(entries_.size()); }
  const Entry& entry(int64_t offset) const override { return entries_[static_cast<size_t>(offset)]; }
  // An empty `data` is the leader's marker: written as a LeaderChange control batch.
  void append(const Entry& e) override;
  void truncate(int64_t end) override;

  // The log's record offset of the last record of entry `index` (what Kafka calls the
  // metadata offset), -1 for index < 0.
  int64_t last_record_offset(int64_t index) const;
  // A storage failure is fatal to a voter (it cannot keep its promises): the first one is kept
  // here and the owner stops the quorum.
  const Status& failure() const { return failure_; }

  // The marker's control record (key: version 0, type 2; value: LeaderChangeMessage v0 with
  // the leader id). Exposed for tests.
  static std::vector<uint8_t> leader_change_batch(int32_t epoch, int32_t leader);
  // Whether an entry is a control batch (markers carry no metadata records).
  static bool is_control(const Entry& e);

 private:
  explicit LogRaftStorage(std::shared_ptr<storage::Log> log) : log_(std::move(log)) {}
  void fail(Status s);

  std::shared_ptr<storage::Log> log_;
  std::filesystem::path state_path_;
  int32_t epoch_ = 0;
  int32_t voted_for_ = -1;
  struct Placed {
    int64_t base_offset, last_offset;
  };
  std::vector<Entry> entries_;
  std::vector<Placed> placed_;  // record offsets of each entry in the log
  Status failure_;
};

}  // namespace kb::raft
