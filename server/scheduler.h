// Timers and hand-offs to a connection's network thread, without exposing Boost.Asio to the
// code that uses them (handlers, delayed operations).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace kb::server {

// A timer that can be cancelled; cancelling after it fired is harmless.
class TimerHandle {
 public:
  virtual ~TimerHandle() = default;
  virtual void cancel() = 0;
};

// One network thread's event loop. Everything posted to it runs on that thread, in order.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void post(std::function<void()> fn) = 0;
  virtual std::shared_ptr<TimerHandle> after_ms(int64_t delay_ms, std::function<void()> fn) = 0;
};

}  // namespace kb::server
