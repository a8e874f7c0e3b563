// The hand-cranked loop of the unit tests keeps the EventLoop contract the coordinators are
// tested against: order, deadlines, cancellation, and timers that fire without their handle.
#include <catch2/catch.hpp>

#include <vector>

#include "tests/unit/runtime/manual_loop.h"

using kb::runtime::test::ManualLoop;

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
}
