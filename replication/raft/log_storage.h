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
// Snapshots: `<log dir>/<end offset, 20 digits>-<epoch, 10 digits>.checkpoint`, Kafka's name
// and layout, except that the end offset counts entries like every Raft position here. The
// file is a run of v2 RecordBatches: a control batch with a SnapshotHeader record (type 3)
// whose value also carries, as a tagged field of kbroker's own (tag kEndRecordOffsetTag),
// the log's record offset where the snapshot ends; then the state machine's batches (the
// metadata image as metadata records); then a control batch with a SnapshotFooter (type 4).
// Saving a snapshot drops the entries below it from memory and moves the log start offset to
// its end (segments wholly below it are deleted); installing one empties the log and starts
// it at the snapshot's end. On open, the latest readable snapshot decides where the log
// starts: batches below its end are ignored (and deleted), and a log that does not reach the
// end, or has a batch across it, is emptied and restarted there (what it held past the
// snapshot was never committed, or a follower would not have needed the snapshot).
//
// Durability: append and truncate fsync the log, set_election_state writes `quorum-state`
// (tmp file, fsync, rename) before returning, as a vote must survive a crash; snapshot files
// are written the same way before the log is cut.
//
// Owner: the Quorum (replication/raft/quorum.h). Thread-safety: none; the quorum's thread only.
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
  int64_t end_offset() const override { return start_ + static_cast<int64_t>(entries_.size()); }
  const Entry& entry(int64_t offset) const override { return entries_[static_cast<size_t>(offset - start_)]; }
  // An empty `data` is the leader's marker: written as a LeaderChange control batch.
  void append(const Entry& e) override;
  void truncate(int64_t end) override;
  int64_t start_offset() const override { return start_; }
  std::optional<SnapshotId> snapshot() const override { return snapshot_; }
  const std::string& snapshot_data() const override { return snapshot_data_; }
  // `data` must be framed by frame_snapshot with the record offset where entry
  // id.end_offset - 1 ends; a snapshot that does not fit the log is a storage failure.
  void save_snapshot(const SnapshotId& id, std::string data) override;
  void install_snapshot(const SnapshotId& id, std::string data) override;

  // The log's record offset of the last record of entry `index` (what Kafka calls the
  // metadata offset), -1 when there is none. Below the start, every entry is in the snapshot:
  // the answer is then the snapshot's last record offset.
  int64_t last_record_offset(int64_t index) const;

  // Snapshot framing: the header (with `end_record_offset`, the record offset just past the
  // snapshot's last entry), `batches`, the footer. And the reverse: the record offset and the
  // state machine's batches (CRC-checked, the header and footer removed); CORRUPT_MESSAGE for
  // anything else.
  static constexpr uint32_t kEndRecordOffsetTag = 0x6b62;  // "kb"
  static std::string frame_snapshot(int64_t end_record_offset, const std::vector<std::vector<uint8_t>>& batches);
  struct SnapshotContents {
    int64_t end_record_offset = 0;
    std::vector<std::span<const uint8_t>> batches;  // into the framed bytes
  };
  static Result<SnapshotContents> parse_snapshot(std::string_view data);
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
  // Loads the latest readable snapshot file, if any (open).
  Status load_latest_snapshot();
  // Writes the snapshot file (atomically) and removes every other one.
  Status write_snapshot_file(const SnapshotId& id, const std::string& data);
  std::filesystem::path snapshot_path(const SnapshotId& id) const;

  std::shared_ptr<storage::Log> log_;
  std::filesystem::path state_path_;
  std::filesystem::path spare_path_;  // kSpareFile (log_storage.cc)
  int32_t epoch_ = 0;
  int32_t voted_for_ = -1;
  int64_t start_ = 0;  // Raft offset of entries_[0]
  std::optional<SnapshotId> snapshot_;
  std::string snapshot_data_;
  int64_t snapshot_end_record_ = 0;  // record offset where the snapshot ends
  struct Placed {
    int64_t base_offset, last_offset;
  };
  std::vector<Entry> entries_;
  std::vector<Placed> placed_;  // record offsets of each entry in the log
  Status failure_;
};

}  // namespace kb::raft
