// An in-memory SchemaLog: the `_schemas` partition for tests (several Registry instances on one
// MemorySchemaLog behave like registries on several brokers sharing the topic).
//
// Two ways to deliver: kImmediate answers every call before it returns (reads with nothing to
// deliver wait until an append); kDeferred queues every answer as a task that the test runs,
// one at a time, in the order it picks (run_all with a seed interleaves appends and reads of
// several registries deterministically). A deferred append decides conflict or success when its
// task runs, as a partition leader would when the request reaches it.
//
// Thread-safe; callbacks run without the log's lock held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <vector>

#include "registry/schema_log.h"

namespace kb::registry {

class MemorySchemaLog : public SchemaLog {
 public:
  enum class Delivery { kImmediate, kDeferred };
  explicit MemorySchemaLog(Delivery delivery = Delivery::kImmediate) : delivery_(delivery) {}

  void append(std::vector<LogRecord> records, int64_t expected_end_offset,
              std::function<void(AppendResult)> done) override;
  void read(int64_t offset, std::function<void(ReadResult)> done) override;
  void end_offset(std::function<void(std::optional<int64_t>)> done) override;

  // kDeferred: the number of queued answers; run the one at `index`; run all (including those
  // the runs queue) in an order drawn from `seed`. Returns the number of tasks run.
  size_t pending() const;
  void run(size_t index);
  size_t run_all(uint32_t seed);
  size_t run_all_in_order();

  // Appends without a condition, as another writer (e.g. a Confluent registry) would.
  int64_t put(LogRecord record);
  // The next `count` appends fail with `status` (kError or kTimeout; a kTimeout append is
  // still written, as a timed-out produce may have been).
  void fail_next_appends(int count, AppendResult::Status status);

  std::vector<LoggedRecord> records() const;
  int64_t end_offset() const;

 private:
  using Task = std::function<void()>;
  // Under mu_: queues (kDeferred) or collects (kImmediate) a task into `out`.
  void schedule(Task t, std::vector<Task>& out);
  void wake_readers(std::vector<Task>& out);   // under mu_
  ReadResult read_from(int64_t offset) const;  // under mu_
  void run_now(std::vector<Task>& tasks);

  const Delivery delivery_;
  mutable std::mutex mu_;
  std::vector<LoggedRecord> log_;
  std::vector<std::pair<int64_t, std::function<void(ReadResult)>>> parked_;
  std::deque<Task> tasks_;
  int fail_count_ = 0;
  AppendResult::Status fail_status_ = AppendResult::Status::kError;
};

}  // namespace kb::registry
