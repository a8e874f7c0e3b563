// One thread running one event loop: an Asio io_context, kept alive by a work guard, run by a
// thread of its own. Every subsystem with a thread of its own is one (or several) of these:
// the network loops, the coordinators' loop, the controller-request loop, the peer client,
// the metadata quorum (its I/O loop and its apply loop), the broker lifecycle, the HTTP
// server. Code that owns sockets reaches the io_context through context(); everything else
// sees only the EventLoop interface.
//
// Stop contract (stop(grace)): from then on timers that have not fired are cancelled and new
// ones never fire; the loop keeps running what is already posted, what those tasks post, and
// the I/O in progress until it has nothing left to do, for at most `grace`; then it stops
// where it is and the thread is joined. Tasks posted after the loop stopped are dropped (never
// run). An exception escaping a task is a bug: it is logged with the loop's name and the
// process aborts, since a subsystem whose thread died would hang every caller.
//
// Owner: the subsystem that constructs it, which stops it (or lets the destructor do so)
// before the objects its tasks use are gone. Thread-safety: every method may be called from
// any thread except stop() and the destructor, which must not run on the loop's own thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/event_loop.h"

namespace boost::asio {
class io_context;
}

namespace kb::runtime {

class LoopThread final : public EventLoop {
 public:
  // No time limit for stop(): everything posted runs, however long it takes.
  static constexpr std::chrono::milliseconds kNoDeadline = std::chrono::milliseconds::max();

  // Starts the thread. `name` names it for `top -H` and gdb (the first 15 characters) and
  // in the log line of a failure.
  explicit LoopThread(std::string name);
  ~LoopThread() override;  // stop(1 s)
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  void post(std::function<void()> fn) override;
  std::shared_ptr<Timer> after_ms(int64_t delay_ms, std::function<void()> fn) override;
  int64_t now_ms() const override;

  // True on the loop's own thread.
  bool on_loop_thread() const;
  // The io_context, for sockets, acceptors and resolvers that live on this loop.
  boost::asio::io_context& context();

  // See the stop contract above. Idempotent: a second call returns at once.
  void stop(std::chrono::milliseconds grace);

  struct Impl;  // public so the timers in loop_thread.cc can name it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::runtime
