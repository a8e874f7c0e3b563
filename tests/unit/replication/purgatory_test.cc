#include <catch2/catch.hpp>

#include <thread>

#include "replication/purgatory.h"
#include "runtime/manual_loop.h"

using namespace kb;
using namespace kb::replication;
using kb::runtime::ManualLoop;

namespace {

// Completes once `available` reaches `needed`; counts completions.
class CountingOp : public DelayedOperation {
 public:
  CountingOp(std::atomic<int>& available, int needed) : available_(available), needed_(needed) {}
  int completions = 0;

 protected:
  bool can_complete() override { return available_.load() >= needed_; }
  void on_complete() override { ++completions; }

 private:
  std::atomic<int>& available_;
  int needed_;
};

}  // namespace

TEST_CASE("a waiting operation completes when an event on its key brings enough data") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{0};
  auto op = std::make_shared<CountingOp>(available, 2);
  TopicPartition tp{"t", 0};
  purgatory.try_complete_else_watch(op, {tp}, 1000);
  REQUIRE_FALSE(op->completed());
  REQUIRE(purgatory.watching() == 1);

  available = 1;
  purgatory.check(tp);
  REQUIRE_FALSE(op->completed());

  available = 2;
  purgatory.check(tp);
  REQUIRE(op->completed());
  REQUIRE(op->completions == 1);
  REQUIRE(purgatory.watching() == 0);  // completed operations are forgotten
}

TEST_CASE("an event on another key leaves the operation waiting") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{5};
  auto op = std::make_shared<CountingOp>(available, 10);
  purgatory.try_complete_else_watch(op, {{"a", 0}}, 1000);
  available = 10;
  purgatory.check({"b", 0});
  REQUIRE_FALSE(op->completed());
  purgatory.check({"a", 0});
  REQUIRE(op->completed());
}

TEST_CASE("data that arrived before the watch completes the operation at once") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{3};
  auto op = std::make_shared<CountingOp>(available, 1);
  purgatory.try_complete_else_watch(op, {{"t", 0}}, 1000);
  REQUIRE(op->completed());
  REQUIRE(loop.pending_timers() == 0);
  REQUIRE(purgatory.watching() == 0);
}

TEST_CASE("an operation watched under several keys completes exactly once") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{0};
  auto op = std::make_shared<CountingOp>(available, 1);
  purgatory.try_complete_else_watch(op, {{"t", 0}, {"t", 1}, {"u", 0}}, 1000);
  available = 1;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] { purgatory.check({i % 2 ? "t" : "u", 0}); });
  for (auto& t : threads) t.join();
  purgatory.check({"t", 1});
  REQUIRE(op->completions == 1);
}

TEST_CASE("expiry forces completion, forgets the operation, and a later event does not complete it again") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{0};
  auto op = std::make_shared<CountingOp>(available, 1);
  purgatory.try_complete_else_watch(op, {{"t", 0}, {"t", 1}}, 1000);
  loop.advance(999);
  REQUIRE_FALSE(op->completed());
  loop.advance(1);
  REQUIRE(op->completions == 1);
  REQUIRE(purgatory.watching() == 0);
  REQUIRE_FALSE(op->force_complete());
  available = 1;
  purgatory.check({"t", 0});
  REQUIRE(op->completions == 1);
}

TEST_CASE("completion cancels the timeout and forgets the operation under all its keys") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{0};
  auto op = std::make_shared<CountingOp>(available, 1);
  purgatory.try_complete_else_watch(op, {{"busy", 0}, {"idle", 0}}, 1000);
  REQUIRE(loop.pending_timers() == 1);
  available = 1;
  purgatory.check({"busy", 0});
  REQUIRE(op->completions == 1);
  REQUIRE(loop.pending_timers() == 0);
  REQUIRE(purgatory.watching() == 0);  // not left on "idle" until it sees an event
}

TEST_CASE("shutdown completes every waiting operation") {
  ManualLoop loop;
  Purgatory purgatory(loop);
  std::atomic<int> available{0};
  auto a = std::make_shared<CountingOp>(available, 1);
  auto b = std::make_shared<CountingOp>(available, 1);
  purgatory.try_complete_else_watch(a, {{"t", 0}}, 1000);
  purgatory.try_complete_else_watch(b, {{"t", 1}}, 1000);
  purgatory.complete_all();
  REQUIRE(a->completions == 1);
  REQUIRE(b->completions == 1);
  REQUIRE(purgatory.watching() == 0);
}
