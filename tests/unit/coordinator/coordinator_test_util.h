// An in-memory __consumer_offsets and the hand-driven loop (runtime/manual_loop.h)
// for driving the coordinators without a network or a clock: time moves only when a test
// calls advance().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/group/group_coordinator.h"
#include "coordinator/group/group_log.h"
#include "runtime/manual_loop.h"

namespace kb::coordinator::test {

using runtime::ManualLoop;

// __consumer_offsets in memory: records per partition, appends completing on the loop.
class MemoryGroupLog final : public GroupLog {
 public:
  explicit MemoryGroupLog(runtime::EventLoop& loop) : loop_(loop) {}

  struct Stored {
    int64_t offset;
    std::string key;
    std::optional<std::string> value;
    int64_t txn_producer_id = -1;  // a transactional batch's (or a marker's) producer
    TxnMarker marker = TxnMarker::None;
  };

  void append(int32_t partition, const std::vector<GroupRecord>& records, std::optional<TxnProducer> txn,
              std::function<void(Result<int64_t>)> done) override {
    if (fail_with_ != ErrorCode::NONE) {
      ErrorCode e = fail_with_;
      loop_.post([done = std::move(done), e] { done(Result<int64_t>(e)); });
      return;
    }
    auto& log = partitions_[partition];
    int64_t first = static_cast<int64_t>(log.size());
    for (const auto& r : records)
      log.push_back({static_cast<int64_t>(log.size()), r.key, r.value, txn ? txn->id : -1, TxnMarker::None});
    loop_.post([done = std::move(done), first] { done(first); });
  }

  // The transaction coordinator's COMMIT or ABORT marker of `producer_id` (what
  // WriteTxnMarkers appends to the partition).
  void write_marker(int32_t partition, int64_t producer_id, bool commit) {
    auto& log = partitions_[partition];
    std::string key("\0\0\0", 3);  // EndTransactionMarker key: version 0, type 0 ABORT / 1 COMMIT
    key += char(commit ? 1 : 0);
    log.push_back({static_cast<int64_t>(log.size()), key, std::nullopt, producer_id,
                   commit ? TxnMarker::Commit : TxnMarker::Abort});
  }

  Status replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn,
                SkippedRecords&) override {
    for (const auto& r : partitions_[partition]) {
      StoredGroupRecord s;
      s.offset = r.offset;
      s.key = std::string_view(r.key);
      if (r.value) s.value = std::string_view(*r.value);
      s.txn_producer_id = r.txn_producer_id;
      s.marker = r.marker;
      fn(s);
    }
    return {};
  }

  // A record written by someone else (a client producing to the topic, another version).
  void write_raw(int32_t partition, std::string key, std::optional<std::string> value) {
    auto& log = partitions_[partition];
    log.push_back({static_cast<int64_t>(log.size()), std::move(key), std::move(value)});
  }

  void fail_appends_with(ErrorCode e) { fail_with_ = e; }
  const std::vector<Stored>& records(int32_t partition) { return partitions_[partition]; }

 private:
  runtime::EventLoop& loop_;
  std::map<int32_t, std::vector<Stored>> partitions_;
  ErrorCode fail_with_ = ErrorCode::NONE;
};

// A callback's answer, filled when the coordinator calls it.
template <class T>
struct Answer {
  std::shared_ptr<std::optional<T>> value = std::make_shared<std::optional<T>>();
  std::function<void(T)> callback() {
    return [v = value](T t) { *v = std::move(t); };
  }
  bool ready() const { return value->has_value(); }
  const T& operator*() const { return value->value(); }
  const T* operator->() const { return &value->value(); }
};

}  // namespace kb::coordinator::test
