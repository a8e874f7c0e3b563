// RateLimitedLog: a repeated line is said once per interval per key, and the next line said
// carries how many were held back and when. The clock is a variable the tests move.
#include <catch2/catch.hpp>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "runtime/rate_limited_log.h"

using namespace kb::runtime;

namespace {

struct CapturedLog {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  CapturedLog() {
    auto l = std::make_shared<spdlog::logger>("captured", sink);
    l->set_pattern("%l %v");
    spdlog::set_default_logger(l);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous); }
  std::vector<std::string> lines() const {
    auto out = sink->last_formatted();
    for (auto& l : out)
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    return out;
  }
};

}  // namespace

TEST_CASE("a repeated line is said at once, then once per interval with the count held back") {
  int64_t now = 5'000;
  RateLimitedLog log(10'000, [&] { return now; });
  CHECK(log.admit("").say);
  for (int i = 0; i < 99; ++i) {
    now += 10;
    CHECK_FALSE(log.admit("").say);
  }
  // 990 ms after the first line; the interval ends 10 s after it.
  now = 5'000 + 9'999;
  CHECK_FALSE(log.admit("").say);
  now = 5'000 + 10'000;
  auto v = log.admit("");
  REQUIRE(v.say);
  CHECK(v.suppressed == 100);
  CHECK(v.first_age_ms == 10'000 - 10);  // the first held back came 10 ms after the line said
  CHECK(v.last_age_ms == 1);
  CHECK(v.suffix() == " [100 more like this suppressed, the first 10.0 s ago, the last 0.0 s ago]");
  // The count starts again after a line is said.
  now += 10'000;
  v = log.admit("");
  CHECK(v.say);
  CHECK(v.suppressed == 0);
  CHECK(v.suffix().empty());
}

TEST_CASE("keys are limited separately: a flood about one does not hide the first line about another") {
  int64_t now = 0;
  RateLimitedLog log(1'000, [&] { return now; });
  CHECK(log.admit("listener A").say);
  CHECK_FALSE(log.admit("listener A").say);
  CHECK(log.admit("listener B").say);
  CHECK_FALSE(log.admit("listener B").say);
  now = 1'000;
  CHECK(log.admit("listener A").suppressed == 1);
  CHECK(log.admit("listener B").suppressed == 1);
}

TEST_CASE("the remembered keys are bounded; quiet ones are forgotten first") {
  int64_t now = 0;
  RateLimitedLog log(1'000, [&] { return now; });
  for (size_t i = 0; i < RateLimitedLog::kMaxKeys; ++i) REQUIRE(log.admit("k" + std::to_string(i)).say);
  // Every key is busy: a new one shares one catch-all state, said once per interval.
  CHECK(log.admit("new-1").say);
  CHECK_FALSE(log.admit("new-2").say);
  CHECK_FALSE(log.admit("k0").say);  // still remembered
  // An interval later the quiet keys make room: a new key is said, and so is an old one again.
  now = 1'000;
  CHECK(log.admit("new-3").say);
  CHECK_FALSE(log.admit("new-3").say);
  CHECK(log.admit("k5").say);
}

TEST_CASE("the logging calls say only the lines admitted, the count on the next one") {
  CapturedLog captured;
  int64_t now = 0;
  RateLimitedLog log(10'000, [&] { return now; });
  for (int i = 0; i < 5; ++i) {
    log.warn("", "accept failed on listener {}: {}", "PLAINTEXT", "Too many open files");
    now += 100;
  }
  now = 12'000;
  log.error("", "accept failed on listener {}: {}", "PLAINTEXT", "Too many open files");
  auto lines = captured.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "warning accept failed on listener PLAINTEXT: Too many open files");
  CHECK(lines[1] ==
        "error accept failed on listener PLAINTEXT: Too many open files [4 more like this suppressed, the first "
        "11.9 s ago, the last 11.6 s ago]");
}
