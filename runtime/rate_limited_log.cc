#include "runtime/rate_limited_log.h"

#include <chrono>

namespace kb::runtime {

namespace {

// runtime::steady_ms's reading, without linking the runtime (registry/ uses this alone).
int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RateLimitedLog::RateLimitedLog(int64_t interval_ms, Clock clock)
    : interval_ms_(interval_ms), clock_(clock ? std::move(clock) : Clock(steady_now_ms)) {}

std::string RateLimitedLog::Verdict::suffix() const {
  if (suppressed == 0) return {};
  return fmt::format(" [{} more like this suppressed, the first {:.1f} s ago, the last {:.1f} s ago]", suppressed,
                     static_cast<double>(first_age_ms) / 1000.0, static_cast<double>(last_age_ms) / 1000.0);
}

RateLimitedLog::State& RateLimitedLog::state_for(std::string_view key, int64_t now) {
  auto it = keys_.find(std::string(key));
  if (it != keys_.end()) return it->second;
  if (keys_.size() >= kMaxKeys) {
    // Forget the keys that have been quiet for an interval (anything they held back is lost,
    // as a line that was never repeated would be).
    for (auto i = keys_.begin(); i != keys_.end();)
      i = now - i->second.last_seen_ms >= interval_ms_ ? keys_.erase(i) : std::next(i);
    if (keys_.size() >= kMaxKeys) return overflow_;
  }
  return keys_[std::string(key)];
}

RateLimitedLog::Verdict RateLimitedLog::admit(std::string_view key) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  State& s = state_for(key, now);
  s.last_seen_ms = now;
  Verdict v;
  if (!s.said || now - s.last_said_ms >= interval_ms_) {
    v.say = true;
    v.suppressed = s.suppressed;
    if (s.suppressed > 0) {
      v.first_age_ms = now - s.first_suppressed_ms;
      v.last_age_ms = now - s.last_suppressed_ms;
    }
    s.said = true;
    s.last_said_ms = now;
    s.suppressed = 0;
    return v;
  }
  if (s.suppressed++ == 0) s.first_suppressed_ms = now;
  s.last_suppressed_ms = now;
  return v;
}

}  // namespace kb::runtime
