// The event loop every subsystem with a thread of its own runs on: tasks and timers executed
// in order on one thread, so the state they touch needs no lock. The broker's loops are
// LoopThreads (runtime/loop_thread.h); unit tests drive a hand-cranked loop with a clock
// that moves only when told (runtime/manual_loop.h). No Asio here: this header is
// included by handlers and coordinators, and Asio costs seconds per translation unit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace kb::runtime {

// A pending timer. The timer fires whether or not its handle is kept; the handle is only
// for cancelling it.
class Timer {
 public:
  virtual ~Timer() = default;
  // Callable from any thread, also after the timer fired (then it does nothing). Called on
  // the loop's thread, the callback will not run afterwards, even when the timer had
  // already expired and its callback was queued; from another thread, a callback already
  // running finishes, and none starts after cancel() returns.
  virtual void cancel() = 0;
};

class EventLoop {
 public:
  virtual ~EventLoop() = default;
  // Runs fn on the loop's thread, after the tasks posted before it. Callable from any thread.
  virtual void post(std::function<void()> fn) = 0;
  // Runs fn on the loop's thread once delay_ms have passed (at once for 0 or less).
  // Callable from any thread.
  virtual std::shared_ptr<Timer> after_ms(int64_t delay_ms, std::function<void()> fn) = 0;
  // Wall-clock milliseconds since the epoch (runtime::now_ms() for a real loop; the test
  // loop's own clock in unit tests).
  virtual int64_t now_ms() const = 0;
};

}  // namespace kb::runtime
