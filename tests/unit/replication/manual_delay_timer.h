// A DelayTimer driven by the test: timeouts fire when the test advances its clock, on the
// test's thread, so "times out" is a step of the test rather than a wait.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "replication/delay_timer.h"

namespace kb::replication::test {

class ManualDelayTimer final : public DelayTimer {
 public:
  std::shared_ptr<Handle> after_ms(int64_t delay_ms, std::function<void()> fn) override {
    std::lock_guard lk(state_->mu);
    Key key{state_->now + delay_ms, state_->next_id++};
    state_->due.emplace(key, std::move(fn));
    return std::make_shared<ManualHandle>(state_, key);
  }
  // Moves the clock on by `ms` and runs what became due, in deadline order.
  void advance(int64_t ms) {
    std::vector<std::function<void()>> fire;
    {
      std::lock_guard lk(state_->mu);
      state_->now += ms;
      while (!state_->due.empty() && state_->due.begin()->first.first <= state_->now) {
        fire.push_back(std::move(state_->due.begin()->second));
        state_->due.erase(state_->due.begin());
      }
    }
    for (auto& fn : fire) fn();
  }
  // Timers armed and neither fired nor cancelled.
  size_t pending() const {
    std::lock_guard lk(state_->mu);
    return state_->due.size();
  }

 private:
  using Key = std::pair<int64_t, uint64_t>;
  struct State {
    mutable std::mutex mu;
    int64_t now = 0;
    uint64_t next_id = 0;
    std::map<Key, std::function<void()>> due;
  };
  class ManualHandle final : public Handle {
   public:
    ManualHandle(std::weak_ptr<State> s, Key k) : s_(std::move(s)), k_(k) {}
    void cancel() override {
      if (auto s = s_.lock()) {
        std::lock_guard lk(s->mu);
        s->due.erase(k_);
      }
    }

   private:
    std::weak_ptr<State> s_;
    Key k_;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace kb::replication::test
