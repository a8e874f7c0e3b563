// What the registry's REST layer tells the broker's metrics: one call per answered request,
// with the endpoint's route (e.g. "GET /subjects/{subject}/versions"), the HTTP status and the
// time from arrival to answer. Gauges (subjects, live schemas by type, compatibility refusals)
// come from Registry::stats() when the metrics are scraped.
//
// RestCounters is a ready implementation keeping counts and latency sums per (route, status),
// for the broker to export and for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace kb::registry {

class RestMetrics {
 public:
  virtual ~RestMetrics() = default;
  // Called once per request, on the thread that answers it. Must not block.
  virtual void on_request(std::string_view route, int status, std::chrono::nanoseconds latency) = 0;
};

class RestCounters : public RestMetrics {
 public:
  struct Entry {
    int64_t count = 0;
    std::chrono::nanoseconds total_latency{0};
  };
  using Key = std::pair<std::string, int>;  // route, status

  void on_request(std::string_view route, int status, std::chrono::nanoseconds latency) override {
    std::lock_guard lock(mu_);
    auto& e = entries_[Key{std::string(route), status}];
    ++e.count;
    e.total_latency += latency;
  }
  std::map<Key, Entry> snapshot() const {
    std::lock_guard lock(mu_);
    return entries_;
  }
  int64_t count(std::string_view route, int status) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(Key{std::string(route), status});
    return it == entries_.end() ? 0 : it->second.count;
  }

 private:
  mutable std::mutex mu_;
  std::map<Key, Entry> entries_;
};

}  // namespace kb::registry
