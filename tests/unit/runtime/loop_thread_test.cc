// LoopThread: the event loop every subsystem runs on. The tests check the contract callers
// rely on (order, timers that fire unless cancelled, the stop contract), never how long
// anything takes.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/loop_thread.h"

using namespace kb::runtime;
using namespace std::chrono_literals;

namespace {

// Blocks until everything posted to `loop` before it has run.
void drain(LoopThread& loop) {
  std::promise<void> p;
  loop.post([&p] { p.set_value(); });
  p.get_future().wait();
}

}  // namespace

TEST_CASE("posted tasks run in order on the loop's thread") {
  LoopThread loop("test-loop");
  std::vector<int> seen;
  std::atomic<bool> on_loop{true};
  for (int i = 0; i < 100; ++i)
    loop.post([&, i] {
      if (!loop.on_loop_thread()) on_loop = false;
      seen.push_back(i);
    });
  drain(loop);
  REQUIRE(on_loop);
  REQUIRE(seen.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(seen[i] == i);
  REQUIRE_FALSE(loop.on_loop_thread());
}

TEST_CASE("a timer fires on the loop's thread even when its handle is dropped") {
  LoopThread loop("test-loop");
  std::promise<bool> fired;
  loop.after_ms(1, [&] { fired.set_value(loop.on_loop_thread()); });  // handle dropped at once
  auto f = fired.get_future();
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  REQUIRE(f.get());
}

TEST_CASE("timers set on and off the loop's thread fire in deadline order") {
  LoopThread loop("test-loop");
  std::vector<int> order;
  std::promise<void> done;
  loop.post([&] {
    loop.after_ms(40, [&] {
      order.push_back(2);
      done.set_value();
    });
    loop.after_ms(0, [&] { order.push_back(1); });
  });
  REQUIRE(done.get_future().wait_for(30s) == std::future_status::ready);
  REQUIRE(order == std::vector<int>{1, 2});
}

TEST_CASE("a timer cancelled on the loop's thread after it expired does not run") {
  LoopThread loop("test-loop");
  bool ran = false;
  loop.post([&] {
    auto t = loop.after_ms(0, [&] { ran = true; });
    // Expired now, its callback possibly queued: the loop is busy with this task.
    std::this_thread::sleep_for(20ms);
    t->cancel();
  });
  drain(loop);
  // Whatever the timer queued has run by the time a second drain returns.
  drain(loop);
  REQUIRE_FALSE(ran);
}

TEST_CASE("a timer cancelled from another thread never runs, and cancel after firing is harmless") {
  LoopThread loop("test-loop");
  std::atomic<bool> ran{false};
  auto t = loop.after_ms(3'600'000, [&] { ran = true; });
  t->cancel();
  t->cancel();
  std::promise<void> fired;
  auto quick = loop.after_ms(0, [&] { fired.set_value(); });
  fired.get_future().wait();
  quick->cancel();
  loop.stop(LoopThread::kNoDeadline);
  REQUIRE_FALSE(ran);
}

TEST_CASE("stop runs what was posted before it, cancels pending timers and drops later posts") {
  auto loop = std::make_unique<LoopThread>("test-loop");
  std::atomic<int> ran{0};
  std::atomic<bool> timer_ran{false};
  loop->after_ms(3'600'000, [&] { timer_ran = true; });
  for (int i = 0; i < 10; ++i)
    loop->post([&] {
      ++ran;
      // A task posted by a task still runs: the loop runs until it has nothing left.
      loop->post([&] { ++ran; });
    });
  // Without the pending hour-long timer cancelled this would never return.
  loop->stop(LoopThread::kNoDeadline);
  REQUIRE(ran == 20);
  REQUIRE_FALSE(timer_ran);

  auto held = std::make_shared<int>(7);
  loop->post([held] {});
  loop->after_ms(0, [held] {});
  // Neither is queued anywhere: nothing but this test holds `held`.
  REQUIRE(held.use_count() == 1);
  loop->stop(LoopThread::kNoDeadline);  // idempotent
  loop.reset();
}

TEST_CASE("a timer handle outliving its loop may still be cancelled") {
  std::shared_ptr<Timer> t;
  {
    LoopThread loop("test-loop");
    t = loop.after_ms(3'600'000, [] {});
  }
  t->cancel();
}
