// Group states move only along Kafka's legal transitions (GroupState.validPreviousStates): the
// table itself, and a group driven through every kind of move the coordinator makes. Every
// Fixture also checks on destruction that none of its moves was illegal, so the whole suite
// exercises the rule.
#include <catch2/catch.hpp>

#include "coordinator/group/group.h"
#include "tests/unit/coordinator/group_fixture.h"

using namespace kb;
using namespace kb::coordinator;
using namespace kb::coordinator::test;

using S = GroupState;

TEST_CASE("the legal group transitions are Kafka's") {
  const std::vector<S> all = {S::Empty, S::PreparingRebalance, S::CompletingRebalance, S::Stable, S::Dead};
  const std::set<std::pair<S, S>> legal = {
      {S::PreparingRebalance, S::Empty},
      {S::Stable, S::PreparingRebalance},
      {S::CompletingRebalance, S::PreparingRebalance},
      {S::Empty, S::PreparingRebalance},
      {S::PreparingRebalance, S::CompletingRebalance},
      {S::CompletingRebalance, S::Stable},
      {S::Empty, S::Dead},
      {S::PreparingRebalance, S::Dead},
      {S::CompletingRebalance, S::Dead},
      {S::Stable, S::Dead},
  };
  for (S from : all)
    for (S to : all) {
      INFO(state_name(from) << " -> " << state_name(to));
      CHECK(is_legal_transition(from, to) == (legal.count({from, to}) == 1));
    }
}

TEST_CASE("a transition starts the state's clock; loading restores a state without a transition") {
  Group g("g", 0, 100);
  CHECK(g.is(S::Empty));
  CHECK(g.state_timestamp() == 100);
  g.transition_to(S::PreparingRebalance, 150);
  CHECK(g.is(S::PreparingRebalance));
  CHECK(g.state_timestamp() == 150);
  // Kafka's loader builds a group with members straight into Stable.
  Group loaded("h", 0, 100);
  const uint64_t before = illegal_group_transitions();
  loaded.restore_state(S::Stable, 90);
  CHECK(loaded.is(S::Stable));
  CHECK(loaded.state_timestamp() == 90);
  CHECK(illegal_group_transitions() == before);
}

TEST_CASE("a group's life takes only legal steps: join, rebalance, sync timeout, leave, empty, delete") {
  Fixture f;
  const uint64_t before = illegal_group_transitions();
  auto state = [&] { return f.describe("g").group_state; };
  auto a = f.join_new({});  // Empty -> PreparingRebalance -> CompletingRebalance
  REQUIRE(a.ready());
  CHECK(state() == "CompletingRebalance");
  REQUIRE(f.sync("g", a->generation_id, a->member_id, {{a->member_id, "A"}}).ready());
  CHECK(state() == "Stable");
  auto b = f.join_new({});  // Stable -> PreparingRebalance
  CHECK(state() == "PreparingRebalance");
  auto a2 = f.join({.member_id = a->member_id});  // -> CompletingRebalance
  REQUIRE(a2.ready());
  REQUIRE(b.ready());
  CHECK(state() == "CompletingRebalance");
  // Nobody syncs or heartbeats: the members expire one by one (CompletingRebalance ->
  // PreparingRebalance), and a generation without members is Empty.
  f.loop.advance(kRebalance);
  CHECK(state() == "Empty");
  f.commit("g", -1, "", {{"t", 0, 1}});
  CHECK(f.delete_group("g") == ErrorCode::NONE);  // Empty -> Dead, then forgotten
  CHECK(state() == "Dead");
  // The same life again after a reload: loaded groups start Stable or Empty.
  auto c = f.join_new({});
  REQUIRE(c.ready());
  REQUIRE(f.sync("g", c->generation_id, c->member_id, {{c->member_id, "C"}}).ready());
  f.reload();
  CHECK(state() == "Stable");
  CHECK(f.leave("g", {{c->member_id, std::nullopt}}).error_code == 0);  // Stable -> PR -> Empty
  CHECK(state() == "Empty");
  CHECK(illegal_group_transitions() == before);
}
