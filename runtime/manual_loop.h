// A hand-cranked EventLoop for unit tests: nothing runs until the test calls run() or
// advance(), and time moves only by advance(), so timeouts are tested without waiting and
// without a wall clock. Same contract as a LoopThread (runtime/event_loop.h): a timer fires
// unless cancelled, whether or not its handle is kept.
//
// Thread-safety: post(), after_ms(), now_ms(), pending_timers() and a timer's cancel() may be
// called from any thread (code under test arms and cancels timers on its own threads, as it
// would on a LoopThread); run() and advance() from the test's thread only, which is the loop's
// thread: tasks and timers run there, without the loop's lock held. A cancel() racing with the
// very callback it cancels may not stop it (tests that need otherwise cancel on the loop's
// thread).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "runtime/event_loop.h"

namespace kb::runtime {

class ManualLoop final : public EventLoop {
 public:
  void post(std::function<void()> fn) override {
    std::lock_guard lk(state_->mu);
    state_->tasks.push_back(std::move(fn));
  }

  std::shared_ptr<Timer> after_ms(int64_t delay_ms, std::function<void()> fn) override {
    std::lock_guard lk(state_->mu);
    const Key key{state_->now + std::max<int64_t>(delay_ms, 0), state_->seq++};
    auto t = std::make_shared<ManualTimer>(state_, key);
    state_->timers.emplace(key, Entry{t, std::move(fn)});
    return t;
  }

  int64_t now_ms() const override {
    std::lock_guard lk(state_->mu);
    return state_->now;
  }

  // Runs posted tasks (and what they post) until none is left.
  void run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard lk(state_->mu);
        if (state_->tasks.empty()) return;
        fn = std::move(state_->tasks.front());
        state_->tasks.pop_front();
      }
      fn();
    }
  }

  // Moves the clock forward by `ms`, firing due timers in time order (running posted tasks
  // after each).
  void advance(int64_t ms) {
    run();
    int64_t target;
    {
      std::lock_guard lk(state_->mu);
      target = state_->now + ms;
    }
    for (;;) {
      Entry due;
      {
        std::lock_guard lk(state_->mu);
        auto first = state_->timers.begin();
        if (first == state_->timers.end() || first->first.first > target) break;
        state_->now = first->first.first;
        due = std::move(first->second);
        state_->timers.erase(first);
      }
      if (!due.timer->cancelled.load()) due.fn();
      run();
    }
    std::lock_guard lk(state_->mu);
    state_->now = target;
  }

  // Timers armed and neither fired nor cancelled.
  size_t pending_timers() const {
    std::lock_guard lk(state_->mu);
    return state_->timers.size();
  }

 private:
  using Key = std::pair<int64_t, uint64_t>;  // deadline, then arming order
  struct ManualTimer;
  struct Entry {
    std::shared_ptr<ManualTimer> timer;
    std::function<void()> fn;
  };
  struct State {
    mutable std::mutex mu;
    int64_t now = 1'700'000'000'000;
    uint64_t seq = 0;
    std::deque<std::function<void()>> tasks;
    std::map<Key, Entry> timers;
  };
  // Holds the loop's state weakly: a handle may outlive the loop.
  struct ManualTimer final : Timer {
    ManualTimer(std::weak_ptr<State> s, Key k) : state(std::move(s)), key(k) {}
    void cancel() override {
      cancelled.store(true);
      // Drops the entry (and what its callback holds) now, as a LoopThread does.
      std::function<void()> fn;
      if (auto s = state.lock()) {
        std::lock_guard lk(s->mu);
        auto it = s->timers.find(key);
        if (it == s->timers.end()) return;
        fn = std::move(it->second.fn);
        s->timers.erase(it);
      }
    }  // fn is destroyed here, without the loop's lock held
    std::weak_ptr<State> state;
    const Key key;
    std::atomic<bool> cancelled{false};
  };

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace kb::runtime
