// Rate limit for log lines a client (or a stuck partition) can repeat at will: one line per
// kind per interval, the next one saying how many were held back. Errors only, never the
// hot path (it takes a mutex). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "runtime/clock.h"

namespace kb::server {

class LogLimiter {
 public:
  explicit LogLimiter(int64_t interval_ms) : interval_ms_(interval_ms) {}

  // Whether a line of `kind` may be logged now; then `held_back` is how many of that kind
  // were not logged since the last one that was.
  bool allow(int64_t kind, uint64_t& held_back) {
    const int64_t now = runtime::steady_ms();
    std::lock_guard lock(mu_);
    auto [it, first] = kinds_.try_emplace(kind);
    State& s = it->second;
    if (!first && now - s.last_ms < interval_ms_) {
      ++s.held_back;
      return false;
    }
    s.last_ms = now;
    held_back = s.held_back;
    s.held_back = 0;
    return true;
  }

 private:
  struct State {
    int64_t last_ms = 0;
    uint64_t held_back = 0;
  };
  const int64_t interval_ms_;
  std::mutex mu_;
  std::map<int64_t, State> kinds_;
};

}  // namespace kb::server
