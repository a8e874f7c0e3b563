// Helpers for the replication tests: replicas on real logs in a temporary directory, and a
// leader-to-follower copy that goes through the same calls as the fetch path.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../storage/storage_test_util.h"
#include "protocol/record_batch.h"
#include "replication/leader_epoch_cache.h"
#include "replication/partition.h"

namespace kb::replication::test {

namespace fs = std::filesystem;

using kb::storage::test::TempDir;

inline std::shared_ptr<storage::Log> open_log(const fs::path& dir, const storage::LogConfig& config = {}) {
  auto log = storage::Log::open(dir, config, false);
  REQUIRE(log.ok());
  return std::shared_ptr<storage::Log>(std::move(log.value()));
}

// The replica of t-0 on broker `local` in `dir`, in the role `state` gives it.
inline std::shared_ptr<Partition> replica(const fs::path& dir, int32_t local, const PartitionState& state,
                                          int64_t now_ms = 0, const storage::LogConfig& config = {}) {
  return std::make_shared<Partition>(TopicPartition{"t", 0}, Uuid{}, open_log(dir, config), local, state, now_ms);
}

// `n` records in one batch.
inline std::vector<uint8_t> batch_of(int n, const std::string& tag = "v") {
  RecordBatchBuilder b;
  for (int i = 0; i < n; ++i) {
    std::string value = tag;
    value += std::to_string(i);
    b.add("k", value, 1000 + i);
  }
  return b.build();
}

// Appends `n` records as leader; returns the log end offset after.
inline int64_t produce(Partition& p, int n, const std::string& tag = "v") {
  auto bytes = batch_of(n, tag);
  auto info = p.append_as_leader(bytes);
  REQUIRE(info.ok());
  return info->last_offset.value() + 1;
}

// The bytes of a read's file range.
inline std::vector<uint8_t> slice_bytes(const FileSlice& s) {
  std::vector<uint8_t> out(static_cast<size_t>(s.size));
  REQUIRE(::pread(s.fd, out.data(), out.size(), s.position) == static_cast<ssize_t>(out.size()));
  return out;
}

// Every stored byte of a log (to compare two replicas).
inline std::vector<uint8_t> log_bytes(const storage::Log& log) {
  auto rr = log.read(log.log_start_offset(), INT32_MAX, log.log_end_offset(), true);
  REQUIRE(rr.ok());
  return rr->slice ? slice_bytes(*rr->slice) : std::vector<uint8_t>{};
}

// One fetch of `follower` from `leader`, applied as the fetcher does. Returns the leader's
// answer.
inline ReplicaRead fetch_once(Partition& leader, Partition& follower, int64_t now = 0) {
  ReplicaRead r = leader.read_for_replica(follower.local_id(), follower.log_end_offset(), follower.leader_epoch(),
                                          follower.latest_epoch(), 1 << 20, true, now);
  if (r.error != ErrorCode::NONE) return r;
  if (r.diverging) {
    auto t = follower_truncation(follower.epochs(), *r.diverging, follower.log_end_offset(),
                                 follower.high_watermark());
    REQUIRE(follower.truncate_to(t.offset).ok());
    return r;
  }
  if (r.slice) {
    auto bytes = slice_bytes(*r.slice);
    REQUIRE(follower.append_as_follower(bytes, follower.leader_epoch()).ok());
  }
  follower.update_follower_high_watermark(r.high_watermark);
  return r;
}

// Fetches until nothing changes (a fetch that brings nothing and diverges nowhere).
inline void catch_up(Partition& leader, Partition& follower) {
  for (int i = 0; i < 20; ++i) {
    auto before = follower.log_end_offset();
    auto r = fetch_once(leader, follower);
    REQUIRE(r.error == ErrorCode::NONE);
    if (!r.diverging && follower.log_end_offset() == before) return;
  }
  FAIL("no convergence");
}

}  // namespace kb::replication::test
