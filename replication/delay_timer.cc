#include "replication/delay_timer.h"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace kb::replication {

using Clock = std::chrono::steady_clock;
using Key = std::pair<Clock::time_point, uint64_t>;  // deadline, then arming order

struct ReaperTimer::State {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<Key, std::function<void()>> due;
  uint64_t next_id = 0;
  bool stopping = false;
  std::thread thread;

  void run() {
    std::unique_lock lk(mu);
    while (!stopping) {
      if (due.empty()) {
        cv.wait(lk);
        continue;
      }
      const auto first = due.begin()->first.first;
      if (Clock::now() < first) {
        cv.wait_until(lk, first);
        continue;
      }
      std::vector<std::function<void()>> fire;
      const auto now = Clock::now();
      while (!due.empty() && due.begin()->first.first <= now) {
        fire.push_back(std::move(due.begin()->second));
        due.erase(due.begin());
      }
      lk.unlock();
      for (auto& fn : fire) fn();
      lk.lock();
    }
  }
};

namespace {

class ReaperHandle final : public DelayTimer::Handle {
 public:
  ReaperHandle(std::weak_ptr<ReaperTimer::State> state, Key key) : state_(std::move(state)), key_(key) {}
  void cancel() override {
    if (auto s = state_.lock()) {
      std::lock_guard lk(s->mu);
      s->due.erase(key_);
    }
  }

 private:
  std::weak_ptr<ReaperTimer::State> state_;
  Key key_;
};

}  // namespace

ReaperTimer::ReaperTimer(const char* thread_name) : state_(std::make_shared<State>()) {
  state_->thread = std::thread([s = state_.get()] { s->run(); });
  pthread_setname_np(state_->thread.native_handle(), thread_name);
}

ReaperTimer::~ReaperTimer() {
  {
    std::lock_guard lk(state_->mu);
    state_->stopping = true;
    state_->due.clear();
  }
  state_->cv.notify_one();
  state_->thread.join();
}

std::shared_ptr<DelayTimer::Handle> ReaperTimer::after_ms(int64_t delay_ms, std::function<void()> fn) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max<int64_t>(delay_ms, 0));
  Key key;
  bool earliest;
  {
    std::lock_guard lk(state_->mu);
    key = Key{deadline, state_->next_id++};
    state_->due.emplace(key, std::move(fn));
    earliest = state_->due.begin()->first == key;
  }
  // Only a new earliest deadline changes how long the thread sleeps.
  if (earliest) state_->cv.notify_one();
  return std::make_shared<ReaperHandle>(state_, key);
}

size_t ReaperTimer::pending() const {
  std::lock_guard lk(state_->mu);
  return state_->due.size();
}

}  // namespace kb::replication
