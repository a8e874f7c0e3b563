// A hand-cranked EventLoop for unit tests: nothing runs until the test calls run() or
// advance(), and time moves only by advance(), so timeouts are tested without waiting and
// without a wall clock. Same contract as a LoopThread (runtime/event_loop.h): a timer fires
// unless cancelled, whether or not its handle is kept. Single-threaded: the test is the loop.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "runtime/event_loop.h"

namespace kb::runtime::test {

class ManualLoop final : public EventLoop {
 public:
  void post(std::function<void()> fn) override { tasks_.push_back(std::move(fn)); }

  std::shared_ptr<Timer> after_ms(int64_t delay_ms, std::function<void()> fn) override {
    auto t = std::make_shared<ManualTimer>();
    timers_.emplace(std::make_pair(now_ + std::max<int64_t>(delay_ms, 0), seq_++), Entry{t, std::move(fn)});
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

}  // namespace kb::runtime::test
