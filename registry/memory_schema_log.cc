#include "registry/memory_schema_log.h"

namespace kb::registry {

void MemorySchemaLog::schedule(Task t, std::vector<Task>& out) {
  if (delivery_ == Delivery::kDeferred) {
    tasks_.push_back(std::move(t));
  } else {
    out.push_back(std::move(t));
  }
}

void MemorySchemaLog::run_now(std::vector<Task>& tasks) {
  for (auto& t : tasks) t();
}

ReadResult MemorySchemaLog::read_from(int64_t offset) const {
  ReadResult r;
  const int64_t end = static_cast<int64_t>(log_.size());
  for (int64_t o = std::max<int64_t>(offset, 0); o < end; ++o) r.records.push_back(log_[o]);
  r.next_offset = std::max(offset, end);
  r.end_offset = end;
  return r;
}

void MemorySchemaLog::wake_readers(std::vector<Task>& out) {
  auto parked = std::move(parked_);
  parked_.clear();
  for (auto& [offset, done] : parked) {
    // The records are gathered when the answer is delivered, like a fetch answered then.
    schedule(
        [this, offset = offset, done = std::move(done)]() mutable {
          ReadResult r;
          {
            std::lock_guard lock(mu_);
            if (offset >= static_cast<int64_t>(log_.size())) {
              parked_.emplace_back(offset, std::move(done));
              return;
            }
            r = read_from(offset);
          }
          done(std::move(r));
        },
        out);
  }
}

void MemorySchemaLog::append(std::vector<LogRecord> records, int64_t expected_end_offset,
                             std::function<void(AppendResult)> done) {
  std::vector<Task> now;
  {
    std::lock_guard lock(mu_);
    auto task = [this, records = std::move(records), expected_end_offset, done = std::move(done)]() mutable {
      AppendResult result;
      std::vector<Task> woken;
      {
        std::lock_guard lock(mu_);
        const int64_t end = static_cast<int64_t>(log_.size());
        if (fail_count_ > 0) {
          --fail_count_;
          result.status = fail_status_;
          result.message = "injected failure";
          if (fail_status_ == AppendResult::Status::kTimeout && end == expected_end_offset) {
            for (auto& r : records)
              log_.push_back(LoggedRecord{static_cast<int64_t>(log_.size()), std::move(r)});
            wake_readers(woken);
          }
        } else if (end != expected_end_offset) {
          result.status = AppendResult::Status::kConflict;
          result.end_offset = end;
        } else {
          result.status = AppendResult::Status::kOk;
          result.base_offset = end;
          for (auto& r : records)
            log_.push_back(LoggedRecord{static_cast<int64_t>(log_.size()), std::move(r)});
          wake_readers(woken);
        }
      }
      done(std::move(result));
      run_now(woken);
    };
    schedule(std::move(task), now);
  }
  run_now(now);
}

void MemorySchemaLog::read(int64_t offset, std::function<void(ReadResult)> done) {
  std::vector<Task> now;
  {
    std::lock_guard lock(mu_);
    if (offset >= static_cast<int64_t>(log_.size())) {
      parked_.emplace_back(offset, std::move(done));
      return;
    }
    schedule(
        [this, offset, done = std::move(done)]() mutable {
          ReadResult r;
          {
            std::lock_guard lock(mu_);
            r = read_from(offset);
          }
          done(std::move(r));
        },
        now);
  }
  run_now(now);
}

void MemorySchemaLog::end_offset(std::function<void(std::optional<int64_t>)> done) {
  std::vector<Task> now;
  {
    std::lock_guard lock(mu_);
    schedule(
        [this, done = std::move(done)] {
          std::optional<int64_t> end;
          {
            std::lock_guard lock(mu_);
            end = static_cast<int64_t>(log_.size());
          }
          done(end);
        },
        now);
  }
  run_now(now);
}

size_t MemorySchemaLog::pending() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

void MemorySchemaLog::run(size_t index) {
  Task t;
  {
    std::lock_guard lock(mu_);
    if (index >= tasks_.size()) return;
    t = std::move(tasks_[index]);
    tasks_.erase(tasks_.begin() + static_cast<std::ptrdiff_t>(index));
  }
  t();
}

size_t MemorySchemaLog::run_all(uint32_t seed) {
  std::mt19937 rng(seed);
  size_t ran = 0;
  for (size_t n = pending(); n > 0; n = pending(), ++ran) {
    run(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
  }
  return ran;
}

size_t MemorySchemaLog::run_all_in_order() {
  size_t ran = 0;
  for (; pending() > 0; ++ran) run(0);
  return ran;
}

int64_t MemorySchemaLog::put(LogRecord record) {
  std::vector<Task> woken;
  int64_t offset;
  {
    std::lock_guard lock(mu_);
    offset = static_cast<int64_t>(log_.size());
    log_.push_back(LoggedRecord{offset, std::move(record)});
    wake_readers(woken);
  }
  run_now(woken);
  return offset;
}

void MemorySchemaLog::fail_next_appends(int count, AppendResult::Status status) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = status;
}

std::vector<LoggedRecord> MemorySchemaLog::records() const {
  std::lock_guard lock(mu_);
  return log_;
}

int64_t MemorySchemaLog::end_offset() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(log_.size());
}

}  // namespace kb::registry
