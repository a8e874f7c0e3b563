// One log line, rate-limited when repeated. A line that a client, a full disk or an exhausted
// resource can make the broker repeat thousands of times a second (accept failures, refused
// produces, a read that keeps failing) is said at once the first time, then at most once per
// interval per key; the lines held back in between are counted, and the next line said
// carries that count with the ages of the first and the last of them:
//   accept failed on listener PLAINTEXT: Too many open files [1234 more like this
//   suppressed, the first 9.9 s ago, the last 0.1 s ago]
//
// Keys: a call site that says one kind of thing keeps one RateLimitedLog (a member, or a
// function-local static) and passes the key "" (or a fixed word); one that speaks about many
// things (listeners, partitions, peers) passes that thing's name, so a flood about one does
// not hide the first line about another. At most kMaxKeys keys are remembered; keys quiet for
// an interval are forgotten first.
//
// Thread-safe (one mutex, taken once per occurrence; the message is formatted only when it is
// said). The clock is injected so tests never wait on wall time.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

namespace kb::runtime {

class RateLimitedLog {
 public:
  using Clock = std::function<int64_t()>;  // monotonic milliseconds
  static constexpr int64_t kDefaultIntervalMs = 10'000;
  static constexpr size_t kMaxKeys = 1024;

  // `clock` defaults to the steady clock (runtime::steady_ms's reading).
  explicit RateLimitedLog(int64_t interval_ms = kDefaultIntervalMs, Clock clock = {});

  // The decision for one occurrence.
  struct Verdict {
    bool say = false;
    int64_t suppressed = 0;       // lines held back since the last one said (when say)
    int64_t first_age_ms = 0;     // how long ago the first and the last of them came
    int64_t last_age_ms = 0;
    // "" when nothing was held back, else " [N more like this suppressed, ...]".
    std::string suffix() const;
  };
  Verdict admit(std::string_view key);

  template <typename... Args>
  void log(spdlog::level::level_enum level, std::string_view key, fmt::format_string<Args...> format,
           Args&&... args) {
    Verdict v = admit(key);
    if (!v.say) return;
    spdlog::log(level, "{}{}", fmt::format(format, std::forward<Args>(args)...), v.suffix());
  }
  template <typename... Args>
  void info(std::string_view key, fmt::format_string<Args...> format, Args&&... args) {
    log(spdlog::level::info, key, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(std::string_view key, fmt::format_string<Args...> format, Args&&... args) {
    log(spdlog::level::warn, key, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(std::string_view key, fmt::format_string<Args...> format, Args&&... args) {
    log(spdlog::level::err, key, format, std::forward<Args>(args)...);
  }

 private:
  struct State {
    bool said = false;
    int64_t last_said_ms = 0;
    int64_t last_seen_ms = 0;
    int64_t suppressed = 0;
    int64_t first_suppressed_ms = 0;
    int64_t last_suppressed_ms = 0;
  };
  State& state_for(std::string_view key, int64_t now);

  const int64_t interval_ms_;
  const Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, State> keys_;
  State overflow_;  // shared by new keys while kMaxKeys busy ones are remembered
};

}  // namespace kb::runtime
