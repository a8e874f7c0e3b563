// A hand-driven event loop and an in-memory __consumer_offsets for driving the group
// coordinator without a network or a clock: time moves only when a test calls advance().
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/group/event_loop.h"
#include "controller/group/group_coordinator.h"
#include "controller/group/group_log.h"

namespace kb::coordinator::test {

class ManualLoop final : public EventLoop {
 public:
  void post(std::function<void()> fn) override { tasks_.push_back(std::move(fn)); }

  std::shared_ptr<Timer> after_ms(int64_t delay_ms, std::function<void()> fn) override {
    auto t = std::make_shared<ManualTimer>();
    timers_.emplace(std::make_pair(now_ + delay_ms, seq_++), Entry{t, std::move(fn)});
    return t;
  }

  int64_t now_ms() const override { return now_; }

  // Runs posted tasks (and what they post) until none is left.
  void run() {
    while (!tasks_.empty()) {
      auto fn = std::move(tasks_.front());
      tasks_.pop_front();
      fn();
    }
  }

  // Moves the clock forward by `ms`, firing due timers in time order (running posted tasks
  // after each).
  void advance(int64_t ms) {
    run();
    const int64_t target = now_ + ms;
    while (!timers_.empty() && timers_.begin()->first.first <= target) {
      auto node = timers_.extract(timers_.begin());
      now_ = node.key().first;
      if (!node.mapped().timer->cancelled) node.mapped().fn();
      run();
    }
    now_ = target;
  }

 private:
  struct ManualTimer final : Timer {
    void cancel() override { cancelled = true; }
    bool cancelled = false;
  };
  struct Entry {
    std::shared_ptr<ManualTimer> timer;
    std::function<void()> fn;
  };
  int64_t now_ = 1'700'000'000'000;
  uint64_t seq_ = 0;
  std::deque<std::function<void()>> tasks_;
  std::map<std::pair<int64_t, uint64_t>, Entry> timers_;
};

// __consumer_offsets in memory: records per partition, appends completing on the loop.
class MemoryGroupLog final : public GroupLog {
 public:
  explicit MemoryGroupLog(EventLoop& loop) : loop_(loop) {}

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

  Status replay(int32_t partition, const std::function<void(const StoredGroupRecord&)>& fn) override {
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

  void fail_appends_with(ErrorCode e) { fail_with_ = e; }
  const std::vector<Stored>& records(int32_t partition) { return partitions_[partition]; }

 private:
  EventLoop& loop_;
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
