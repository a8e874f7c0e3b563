// Where the timeouts of delayed operations fire (Kafka's purgatory timer and its "expiration
// reaper"). The ReplicaManager owns one; unit tests give it a hand-driven one
// (tests/unit/replication/manual_delay_timer.h) so a timeout is a step of the test, not a wait.
//
// Unlike an event loop's timer, a DelayTimer is used from any thread: a produce handler arms
// it on a network thread, an append on another thread completes the operation and cancels it.
// A timer fires once unless cancelled first; dropping the handle does not cancel it (the
// operation it guards must end even when nobody holds on to it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace kb::replication {

class DelayTimer {
 public:
  class Handle {
   public:
    virtual ~Handle() = default;
    // From any thread. A callback that was already due may still run once (callers make
    // that harmless: a DelayedOperation completes only once).
    virtual void cancel() = 0;
  };

  virtual ~DelayTimer() = default;
  // Runs fn once, after delay_ms, on the timer's thread. From any thread.
  virtual std::shared_ptr<Handle> after_ms(int64_t delay_ms, std::function<void()> fn) = 0;
};

// The broker's DelayTimer: one thread that sleeps until the earliest deadline and runs what is
// due, in deadline order. Arming and cancelling take one mutex (O(log n) in pending timers);
// the thread holds it only to take due entries out, never while a callback runs.
//
// Owner: ReplicaManager. The destructor stops the thread; timers still pending then never fire
// (the owner completes its operations first).
class ReaperTimer final : public DelayTimer {
 public:
  explicit ReaperTimer(const char* thread_name = "kb-purgatory");
  ~ReaperTimer() override;
  std::shared_ptr<Handle> after_ms(int64_t delay_ms, std::function<void()> fn) override;
  // Timers armed and neither fired nor cancelled (tests).
  size_t pending() const;

  struct State;  // shared with the handles, which may outlive the timer

 private:
  std::shared_ptr<State> state_;
};

}  // namespace kb::replication
