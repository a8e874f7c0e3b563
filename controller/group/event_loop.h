// What the group coordinator runs on: one event loop that executes posted tasks and timers in
// order, on one thread. The coordinator keeps all its state on that thread, so it takes no
// locks; the broker gives it an Asio loop (server/coordinator_loop.h), unit tests a loop with
// a hand-driven clock (tests/unit/coordinator/manual_loop.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace kb::coordinator {

class Timer {
 public:
  virtual ~Timer() = default;
  // Called on the loop's thread: the callback will not run afterwards, even when the timer
  // had already expired and its callback was queued.
  virtual void cancel() = 0;
};

class EventLoop {
 public:
  virtual ~EventLoop() = default;
  // Runs fn on the loop's thread, after the tasks posted before it. Callable from any thread.
  virtual void post(std::function<void()> fn) = 0;
  // Runs fn on the loop's thread once delay_ms have passed. Called on the loop's thread.
  virtual std::shared_ptr<Timer> after_ms(int64_t delay_ms, std::function<void()> fn) = 0;
  // Wall-clock milliseconds since the epoch (commit timestamps, retention).
  virtual int64_t now_ms() const = 0;
};

}  // namespace kb::coordinator
