// The hand-cranked loop of the unit tests keeps the EventLoop contract the coordinators are
// tested against: order, deadlines, cancellation, and timers that fire without their handle.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/manual_loop.h"

using kb::runtime::ManualLoop;

TEST_CASE("the manual loop fires timers in deadline order as its clock advances") {
  ManualLoop loop;
  const int64_t start = loop.now_ms();
  std::vector<int> order;
  auto late = loop.after_ms(200, [&] { order.push_back(3); });
  loop.after_ms(100, [&] { order.push_back(2); });  // handle dropped: it still fires
  loop.post([&] { order.push_back(1); });
  loop.advance(99);
  REQUIRE(order == std::vector<int>{1});
  loop.advance(1);
  REQUIRE(order == std::vector<int>{1, 2});
  loop.advance(1000);
  REQUIRE(order == std::vector<int>{1, 2, 3});
  REQUIRE(loop.now_ms() == start + 1100);
}

TEST_CASE("the manual loop never runs a cancelled timer") {
  ManualLoop loop;
  bool ran = false;
  auto t = loop.after_ms(10, [&] { ran = true; });
  t->cancel();
  loop.advance(20);
  REQUIRE_FALSE(ran);
  REQUIRE(loop.pending_timers() == 0);  // a cancelled timer is forgotten at once
}

TEST_CASE("the manual loop takes timers and cancels from other threads and fires them on the test's") {
  ManualLoop loop;
  std::atomic<int> fired{0};
  std::vector<std::shared_ptr<kb::runtime::Timer>> handles(200);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t * 50; i < (t + 1) * 50; ++i) {
        handles[i] = loop.after_ms(i, [&] { fired.fetch_add(1); });
        if (i % 2) handles[i]->cancel();  // every odd one
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(loop.pending_timers() == 100);
  loop.advance(99);
  REQUIRE(fired.load() == 50);
  REQUIRE(loop.pending_timers() == 50);
  handles.clear();  // dropped handles: the rest still fire
  loop.advance(100);
  REQUIRE(fired.load() == 100);
  REQUIRE(loop.pending_timers() == 0);
}
