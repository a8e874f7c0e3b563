// The group coordinator's state machine, driven without a network: a hand-driven clock and
// an in-memory __consumer_offsets (coordinator_test_util.h).
#include <catch2/catch.hpp>

#include "coordinator/group/group_coordinator.h"
#include "coordinator/group/group_records.h"
#include "tests/unit/coordinator/group_fixture.h"

using namespace kb;
using namespace kb::coordinator;
using namespace kb::coordinator::test;

TEST_CASE("partition_for is Kafka's abs(String.hashCode) modulo the partition count") {
  CHECK(GroupCoordinator::partition_for("", 50) == 0);
  CHECK(GroupCoordinator::partition_for("a", 50) == 97 % 50);
  CHECK(GroupCoordinator::partition_for("hello", 50) == 99162322 % 50);
  // "polygenelubricants".hashCode() is Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
  CHECK(GroupCoordinator::partition_for("polygenelubricants", 50) == 0);
  // A negative hash code: "kbroker-group".hashCode() = -1307102346 in Java.
  CHECK(GroupCoordinator::partition_for("kbroker-group", 50) == 1307102346 % 50);
  // Non-ASCII: Java hashes UTF-16 code units ("é" = 0xE9; an emoji is a surrogate pair).
  CHECK(GroupCoordinator::partition_for("\xc3\xa9", 1000) == 233);
  CHECK(GroupCoordinator::partition_for("\xf0\x9f\x98\x80", 10000000) == 0xD83D * 31 + 0xDE00);
}

TEST_CASE("a lone member joins with MEMBER_ID_REQUIRED first, then leads generation 1") {
  Fixture f;
  auto first = f.join({});
  REQUIRE(first.ready());
  CHECK(code_of(first->error_code) == ErrorCode::MEMBER_ID_REQUIRED);
  CHECK(first->member_id.rfind("client-", 0) == 0);
  JoinSpec s;
  s.member_id = first->member_id;
  auto joined = f.join(s);
  REQUIRE(joined.ready());
  CHECK(code_of(joined->error_code) == ErrorCode::NONE);
  CHECK(joined->generation_id == 1);
  CHECK(joined->leader == first->member_id);
  CHECK(joined->protocol_name == "range");
  REQUIRE(joined->members.size() == 1);  // the leader gets every member's metadata
  CHECK(joined->members[0].metadata == subscription({"t"}));
  CHECK(f.describe("g").group_state == "CompletingRebalance");
  auto synced = f.sync("g", 1, first->member_id, {{first->member_id, "all"}});
  REQUIRE(synced.ready());
  CHECK(code_of(synced->error_code) == ErrorCode::NONE);
  CHECK(std::string(synced->assignment.begin(), synced->assignment.end()) == "all");
  CHECK(f.describe("g").group_state == "Stable");
}

TEST_CASE("JoinGroup before v4 gets a member id without the extra round trip") {
  Fixture f;
  auto joined = f.join({}, 3);
  REQUIRE(joined.ready());
  CHECK(code_of(joined->error_code) == ErrorCode::NONE);
  CHECK(!joined->member_id.empty());
  CHECK(joined->generation_id == 1);
}

TEST_CASE("two members: the leader assigns, followers wait for it, heartbeats see the rebalance") {
  TwoMembers t;
  auto d = t.f.describe("g");
  CHECK(d.group_state == "Stable");
  CHECK(d.members.size() == 2);
  CHECK(d.protocol_data == "range");
  CHECK(t.f.heartbeat("g", t.generation, t.a) == ErrorCode::NONE);
  CHECK(t.f.heartbeat("g", t.generation, t.b) == ErrorCode::NONE);
  CHECK(t.f.heartbeat("g", t.generation - 1, t.b) == ErrorCode::ILLEGAL_GENERATION);
  CHECK(t.f.heartbeat("g", t.generation, "nobody") == ErrorCode::UNKNOWN_MEMBER_ID);
  CHECK(t.f.heartbeat("nogroup", 1, t.a) == ErrorCode::UNKNOWN_MEMBER_ID);
  // The follower rejoining with the same metadata in Stable: the current generation back,
  // no rebalance.
  auto again = t.f.join({.member_id = t.b});
  REQUIRE(again.ready());
  CHECK(again->generation_id == t.generation);
  CHECK(again->members.empty());
  CHECK(t.f.describe("g").group_state == "Stable");
}

TEST_CASE("the most preferred protocol that every member supports is chosen") {
  Fixture f;
  auto a = f.join_new({.protocols = {"cooperative-sticky", "range"}});
  REQUIRE(a.ready());
  CHECK(a->protocol_name == "cooperative-sticky");
  auto b = f.join_new({.protocols = {"range"}});  // only range in common
  auto a2 = f.join({.member_id = a->member_id, .protocols = {"cooperative-sticky", "range"}});
  REQUIRE(a2.ready());
  REQUIRE(b.ready());
  CHECK(b->protocol_name == "range");
  CHECK(a2->protocol_name == "range");
  // A third member with nothing in common is refused.
  auto c = f.join({.protocols = {"roundrobin"}});
  REQUIRE(c.ready());
  CHECK(code_of(c->error_code) == ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  auto d = f.join({.protocols = {"range"}, .protocol_type = "connect"});
  REQUIRE(d.ready());
  CHECK(code_of(d->error_code) == ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
}

TEST_CASE("JoinGroup refusals: group id, session timeout, unknown member, group size, coordinator") {
  GroupConfig c = Fixture::config_without_delay();
  c.max_size = 1;
  Fixture f(c);
  auto empty_id = f.join({.group = ""});
  CHECK(code_of(empty_id->error_code) == ErrorCode::INVALID_GROUP_ID);
  auto short_session = f.join({.session_timeout = 5999});
  CHECK(code_of(short_session->error_code) == ErrorCode::INVALID_SESSION_TIMEOUT);
  auto long_session = f.join({.session_timeout = 1800001});
  CHECK(code_of(long_session->error_code) == ErrorCode::INVALID_SESSION_TIMEOUT);
  auto unknown = f.join({.group = "other", .member_id = "made-up"});
  CHECK(code_of(unknown->error_code) == ErrorCode::UNKNOWN_MEMBER_ID);
  auto a = f.join_new({});
  REQUIRE(a.ready());
  auto full = f.join({}, 3);
  CHECK(code_of(full->error_code) == ErrorCode::GROUP_MAX_SIZE_REACHED);
  // A group whose partition this broker does not lead.
  f.coord.resigned(GroupCoordinator::partition_for("g", kPartitions));
  f.loop.run();
  auto moved = f.join({.member_id = a->member_id});
  CHECK(code_of(moved->error_code) == ErrorCode::NOT_COORDINATOR);
}

TEST_CASE("SyncGroup refusals: unknown member, stale generation, rebalance in progress, protocol mismatch") {
  TwoMembers t;
  auto unknown = t.f.sync("g", t.generation, "nobody");
  CHECK(code_of(unknown->error_code) == ErrorCode::UNKNOWN_MEMBER_ID);
  auto no_group = t.f.sync("nogroup", 1, t.a);
  CHECK(code_of(no_group->error_code) == ErrorCode::UNKNOWN_MEMBER_ID);
  auto stale = t.f.sync("g", t.generation - 1, t.a);
  CHECK(code_of(stale->error_code) == ErrorCode::ILLEGAL_GENERATION);
  msg::SyncGroupRequest wrong;
  wrong.group_id = "g";
  wrong.generation_id = t.generation;
  wrong.member_id = t.a;
  wrong.protocol_type = "connect";
  Answer<msg::SyncGroupResponse> mismatch;
  t.f.coord.sync_group(wrong, ClientInfo{"client", "/127.0.0.1", 5}, mismatch.callback());
  t.f.loop.run();
  CHECK(code_of(mismatch->error_code) == ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  // A third member starts a rebalance: syncing the old generation is now refused.
  auto c = t.f.join_new({});
  CHECK_FALSE(c.ready());
  auto during = t.f.sync("g", t.generation, t.b);
  CHECK(code_of(during->error_code) == ErrorCode::REBALANCE_IN_PROGRESS);
  CHECK(t.f.heartbeat("g", t.generation, t.b) == ErrorCode::REBALANCE_IN_PROGRESS);
}

TEST_CASE("a member whose session expires is removed and the others rebalance") {
  TwoMembers t;
  // Only "a" keeps heartbeating; "b" last spoke at its SyncGroup.
  for (int i = 0; i < 3; ++i) {
    t.f.loop.advance(kSession / 3);
    REQUIRE(t.f.heartbeat("g", t.generation, t.a) == ErrorCode::NONE);
  }
  t.f.loop.advance(kSession / 3);
  CHECK(t.f.heartbeat("g", t.generation, t.a) == ErrorCode::REBALANCE_IN_PROGRESS);
  auto rejoin = t.f.join({.member_id = t.a});
  REQUIRE(rejoin.ready());
  CHECK(rejoin->generation_id == t.generation + 1);
  CHECK(rejoin->members.size() == 1);
  CHECK(t.f.heartbeat("g", t.generation, t.b) == ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_CASE("a member that does not rejoin within the rebalance timeout is dropped from the generation") {
  TwoMembers t;
  auto c = t.f.join_new({});  // starts a rebalance; "a" rejoins, "b" never does
  auto a = t.f.join({.member_id = t.a});
  CHECK_FALSE(a.ready());
  // "b" keeps heartbeating (REBALANCE_IN_PROGRESS) but does not rejoin.
  t.f.loop.advance(kSession / 2);
  CHECK(t.f.heartbeat("g", t.generation, t.b) == ErrorCode::REBALANCE_IN_PROGRESS);
  CHECK_FALSE(a.ready());
  t.f.loop.advance(kRebalance);
  REQUIRE(a.ready());
  REQUIRE(c.ready());
  CHECK(a->generation_id == t.generation + 1);
  CHECK(a->members.size() == 2);
  CHECK(t.f.heartbeat("g", t.generation + 1, t.b) == ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_CASE("members that never sync are removed after the rebalance timeout") {
  TwoMembers t;
  // "c" has a session longer than the rebalance timeout, so only the sync timeout can
  // remove it.
  auto c = t.f.join_new({.session_timeout = 2 * kRebalance});
  auto a = t.f.join({.member_id = t.a});
  auto b = t.f.join({.member_id = t.b});
  REQUIRE(a.ready());
  REQUIRE(c.ready());
  int32_t generation = a->generation_id;
  auto sb = t.f.sync("g", generation, t.b);
  auto sa = t.f.sync("g", generation, t.a, {{t.a, "1"}, {t.b, "2"}, {c->member_id, "3"}});
  REQUIRE(sa.ready());
  CHECK(t.f.describe("g").group_state == "Stable");
  for (int waited = 0; waited <= kRebalance; waited += kSession / 2) {
    t.f.loop.advance(kSession / 2);
    t.f.heartbeat("g", generation, t.a);
    t.f.heartbeat("g", generation, t.b);
  }
  auto d = t.f.describe("g");
  CHECK(d.group_state == "PreparingRebalance");
  CHECK(d.members.size() == 2);
  CHECK(t.f.heartbeat("g", generation, c->member_id) == ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_CASE("the initial rebalance delay gathers the first members into one generation") {
  GroupConfig c;
  c.initial_rebalance_delay_ms = 3000;
  Fixture f(c);
  auto a = f.join_new({});
  CHECK_FALSE(a.ready());
  f.loop.advance(2000);
  auto b = f.join_new({});
  f.loop.advance(1500);  // the first delay ended with a newcomer: it is extended once more
  CHECK_FALSE(a.ready());
  f.loop.advance(3000);
  REQUIRE(a.ready());
  REQUIRE(b.ready());
  CHECK(a->generation_id == 1);
  CHECK(b->generation_id == 1);
  CHECK(a->members.size() + b->members.size() == 2);
}

TEST_CASE("a static member restarted within its session keeps its assignment without a rebalance") {
  Fixture f;
  auto a = f.join({.instance_id = "host-a"});
  REQUIRE(a.ready());  // static members skip MEMBER_ID_REQUIRED
  CHECK(code_of(a->error_code) == ErrorCode::NONE);
  auto b = f.join_new({});
  auto a2 = f.join({.member_id = a->member_id, .instance_id = "host-a"});
  REQUIRE(b.ready());
  int32_t generation = a2->generation_id;
  f.sync("g", generation, b->member_id);
  auto sa = f.sync("g", generation, a->member_id, {{a->member_id, "A"}, {b->member_id, "B"}}, "host-a");
  REQUIRE(code_of(sa->error_code) == ErrorCode::NONE);

  // The process restarts: a new JoinGroup without member id but with the same instance id.
  auto back = f.join({.instance_id = "host-a"});
  REQUIRE(back.ready());
  CHECK(code_of(back->error_code) == ErrorCode::NONE);
  CHECK(back->generation_id == generation);
  CHECK(back->member_id != a->member_id);
  CHECK(back->leader == back->member_id);
  CHECK(back->skip_assignment);  // it leads: v9 tells it not to assign again
  auto sync_back = f.sync("g", generation, back->member_id, {}, "host-a");
  CHECK(std::string(sync_back->assignment.begin(), sync_back->assignment.end()) == "A");
  CHECK(f.describe("g").group_state == "Stable");
  CHECK(f.heartbeat("g", generation, b->member_id) == ErrorCode::NONE);
  // The old incarnation is fenced.
  CHECK(f.heartbeat("g", generation, a->member_id, "host-a") == ErrorCode::FENCED_INSTANCE_ID);
  auto old_sync = f.sync("g", generation, a->member_id, {}, "host-a");
  CHECK(code_of(old_sync->error_code) == ErrorCode::FENCED_INSTANCE_ID);
  // The new member id was written, so it survives a coordinator move.
  f.reload();
  CHECK(f.heartbeat("g", generation, back->member_id, "host-a") == ErrorCode::NONE);
}

TEST_CASE("LeaveGroup: batched members, unknown and fenced ones, and the rebalance it starts") {
  Fixture f;
  auto s = f.join({.instance_id = "host-s"});
  auto d = f.join_new({});
  auto s2 = f.join({.member_id = s->member_id, .instance_id = "host-s"});
  REQUIRE(d.ready());
  f.sync("g", d->generation_id, s->member_id, {}, "host-s");

  auto r = f.leave("g", {{"nobody", std::nullopt}, {"wrong-id", "host-s"}, {"", "no-such-instance"}});
  REQUIRE(r.members.size() == 3);
  CHECK(code_of(r.members[0].error_code) == ErrorCode::UNKNOWN_MEMBER_ID);
  CHECK(code_of(r.members[1].error_code) == ErrorCode::FENCED_INSTANCE_ID);
  CHECK(code_of(r.members[2].error_code) == ErrorCode::UNKNOWN_MEMBER_ID);
  CHECK(code_of(r.error_code) == ErrorCode::NONE);
  CHECK(f.describe("g").members.size() == 2);

  auto ok = f.leave("g", {{d->member_id, std::nullopt}, {"", "host-s"}});
  CHECK(code_of(ok.members[0].error_code) == ErrorCode::NONE);
  CHECK(code_of(ok.members[1].error_code) == ErrorCode::NONE);
  CHECK(f.describe("g").group_state == "Empty");

  // Before v3, the one member's error is the answer's.
  auto v0 = f.leave("g", {{"nobody", std::nullopt}}, 0);
  CHECK(code_of(v0.error_code) == ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_CASE("committed offsets are answered after their write and rebuilt from the log") {
  TwoMembers t;
  auto codes = t.f.commit("g", t.generation, t.a, {{"t", 0, 42}, {"t", 1, 7}}, "meta");
  CHECK(codes == std::vector<int16_t>{0, 0});
  CHECK(t.f.committed("g", "t", 0) == 42);
  CHECK(t.f.committed("g", "t", 1) == 7);
  CHECK(t.f.committed("g", "t", 2) == -1);
  t.f.commit("g", t.generation, t.b, {{"t", 0, 50}});
  int32_t p = GroupCoordinator::partition_for("g", kPartitions);
  // Group metadata (two generations, the assignment) and three offset records.
  CHECK(t.f.log.records(p).size() >= 4);

  t.f.reload();
  CHECK(t.f.committed("g", "t", 0) == 50);
  CHECK(t.f.committed("g", "t", 1) == 7);
  auto all = t.f.fetch("g");
  REQUIRE(all.partitions.size() == 2);
  CHECK(all.partitions[1].metadata == "meta");
  // Members and generation came back too: they may go on heartbeating.
  auto d = t.f.describe("g");
  CHECK(d.group_state == "Stable");
  CHECK(d.members.size() == 2);
  CHECK(t.f.heartbeat("g", t.generation, t.a) == ErrorCode::NONE);
}

TEST_CASE("OffsetCommit refusals: stale generation, unknown member, completing rebalance, metadata size") {
  TwoMembers t;
  CHECK(code_of(t.f.commit("unknown-group", 3, "m", {{"t", 0, 1}})[0]) == ErrorCode::ILLEGAL_GENERATION);
  CHECK(code_of(t.f.commit("g", t.generation - 1, t.a, {{"t", 0, 1}})[0]) == ErrorCode::ILLEGAL_GENERATION);
  CHECK(code_of(t.f.commit("g", t.generation, "nobody", {{"t", 0, 1}})[0]) == ErrorCode::UNKNOWN_MEMBER_ID);
  // Without member and generation, only an empty group takes commits.
  CHECK(code_of(t.f.commit("g", -1, "", {{"t", 0, 1}})[0]) == ErrorCode::UNKNOWN_MEMBER_ID);
  CHECK(code_of(t.f.commit("g", t.generation, t.a, {{"t", 0, 1}}, std::string(4097, 'x'))[0]) ==
        ErrorCode::OFFSET_METADATA_TOO_LARGE);
  // A rebalance completes its join: until the assignment is synced, commits must wait.
  auto c = t.f.join_new({});
  auto a = t.f.join({.member_id = t.a});
  auto b = t.f.join({.member_id = t.b});
  REQUIRE(a.ready());
  CHECK(code_of(t.f.commit("g", a->generation_id, t.a, {{"t", 0, 1}})[0]) == ErrorCode::REBALANCE_IN_PROGRESS);
  // A standalone consumer (assign + commit, generation -1) creates its group by committing.
  CHECK(code_of(t.f.commit("standalone", -1, "", {{"t", 0, 9}})[0]) == ErrorCode::NONE);
  CHECK(t.f.committed("standalone", "t", 0) == 9);
}

TEST_CASE("a failed write is answered with Kafka's coordinator error and changes nothing") {
  Fixture f;
  f.commit("solo", -1, "", {{"t", 0, 5}});
  f.log.fail_appends_with(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  CHECK(code_of(f.commit("solo", -1, "", {{"t", 0, 6}})[0]) == ErrorCode::NOT_COORDINATOR);
  f.log.fail_appends_with(ErrorCode::NOT_ENOUGH_REPLICAS);
  CHECK(code_of(f.commit("solo", -1, "", {{"t", 0, 6}})[0]) == ErrorCode::COORDINATOR_NOT_AVAILABLE);
  f.log.fail_appends_with(ErrorCode::MESSAGE_TOO_LARGE);
  CHECK(code_of(f.commit("solo", -1, "", {{"t", 0, 6}})[0]) == ErrorCode::INVALID_COMMIT_OFFSET_SIZE);
  CHECK(f.committed("solo", "t", 0) == 5);
}

TEST_CASE("DeleteGroups removes an empty group with its offsets and refuses the others") {
  TwoMembers t;
  t.f.commit("g", t.generation, t.a, {{"t", 0, 3}});
  CHECK(t.f.delete_group("g") == ErrorCode::NON_EMPTY_GROUP);
  CHECK(t.f.delete_group("never-existed") == ErrorCode::GROUP_ID_NOT_FOUND);
  t.f.leave("g", {{t.a, std::nullopt}, {t.b, std::nullopt}});
  CHECK(t.f.describe("g").group_state == "Empty");
  CHECK(t.f.delete_group("g") == ErrorCode::NONE);
  CHECK(t.f.describe("g").group_state == "Dead");
  CHECK(t.f.committed("g", "t", 0) == -1);
  CHECK(t.f.delete_group("g") == ErrorCode::GROUP_ID_NOT_FOUND);
  // The tombstones are in the log: a reload does not bring the group back.
  t.f.reload();
  CHECK(t.f.committed("g", "t", 0) == -1);
  CHECK(t.f.describe("g").group_state == "Dead");
}

TEST_CASE("OffsetDelete keeps the offsets of topics the group consumes") {
  TwoMembers t;  // subscribed to "t"
  t.f.commit("g", t.generation, t.a, {{"t", 0, 3}, {"old", 0, 8}});
  msg::OffsetDeleteRequest req;
  req.group_id = "g";
  req.topics.push_back({"t", {{0}}});
  req.topics.push_back({"old", {{0}}});
  Answer<msg::OffsetDeleteResponse> out;
  t.f.coord.delete_offsets(req, out.callback());
  t.f.loop.run();
  REQUIRE(out.ready());
  CHECK(code_of(out->error_code) == ErrorCode::NONE);
  CHECK(code_of(out->topics[0].partitions[0].error_code) == ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
  CHECK(code_of(out->topics[1].partitions[0].error_code) == ErrorCode::NONE);
  CHECK(t.f.committed("g", "t", 0) == 3);
  CHECK(t.f.committed("g", "old", 0) == -1);

  req.group_id = "missing";
  Answer<msg::OffsetDeleteResponse> missing;
  t.f.coord.delete_offsets(req, missing.callback());
  t.f.loop.run();
  CHECK(code_of(missing->error_code) == ErrorCode::GROUP_ID_NOT_FOUND);
}

TEST_CASE("a deleted topic's committed offsets leave every group; a group left with nothing goes") {
  TwoMembers t;  // subscribed to "t"
  t.f.commit("g", t.generation, t.a, {{"t", 0, 3}, {"t", 1, 4}, {"other", 0, 8}});
  t.f.commit("standalone", -1, "", {{"t", 0, 1}});
  t.f.coord.topics_deleted({"t", "never-consumed"});
  t.f.loop.run();
  CHECK(t.f.committed("g", "t", 0) == -1);
  CHECK(t.f.committed("g", "t", 1) == -1);
  CHECK(t.f.committed("g", "other", 0) == 8);
  CHECK(t.f.describe("g").group_state == "Stable");
  CHECK(t.f.describe("standalone").group_state == "Dead");
  // The tombstones are in the log: a re-created "t" does not inherit the old positions.
  t.f.reload();
  CHECK(t.f.committed("g", "t", 0) == -1);
  CHECK(t.f.committed("g", "other", 0) == 8);
  CHECK(t.f.committed("standalone", "t", 0) == -1);
}

TEST_CASE("offsets of an empty group expire after offsets.retention.minutes, then the group goes") {
  GroupConfig c = Fixture::config_without_delay();
  c.offsets_retention_ms = 60'000;
  c.offsets_retention_check_interval_ms = 10'000;
  Fixture f(c);
  auto a = f.join_new({});
  f.sync("g", a->generation_id, a->member_id);
  f.commit("g", a->generation_id, a->member_id, {{"t", 0, 11}});
  // Members keep the offsets alive however old they are.
  for (int i = 0; i < 10; ++i) {
    f.loop.advance(kSession / 2);
    REQUIRE(f.heartbeat("g", a->generation_id, a->member_id) == ErrorCode::NONE);
  }
  CHECK(f.committed("g", "t", 0) == 11);
  f.leave("g", {{a->member_id, std::nullopt}});
  f.loop.advance(50'000);
  CHECK(f.committed("g", "t", 0) == 11);
  f.loop.advance(20'000);
  CHECK(f.committed("g", "t", 0) == -1);
  CHECK(f.describe("g").group_state == "Dead");
  f.reload();
  CHECK(f.committed("g", "t", 0) == -1);
}

TEST_CASE("ListGroups filters by state; DescribeGroups of an unknown group says Dead") {
  TwoMembers t;
  t.f.commit("standalone", -1, "", {{"t", 0, 1}});
  Answer<ListedGroups> all;
  t.f.coord.list_groups({}, all.callback());
  Answer<ListedGroups> stable;
  t.f.coord.list_groups({"stable"}, stable.callback());
  t.f.loop.run();
  CHECK(all->groups.size() == 2);
  REQUIRE(stable->groups.size() == 1);
  CHECK(stable->groups[0].group_id == "g");
  CHECK(stable->groups[0].protocol_type == "consumer");
  auto d = t.f.describe("unknown");
  CHECK(code_of(d.error_code) == ErrorCode::NONE);
  CHECK(d.group_state == "Dead");
}

TEST_CASE("a coordinator move answers waiting joins NOT_COORDINATOR") {
  TwoMembers t;
  auto c = t.f.join_new({});
  CHECK_FALSE(c.ready());
  t.f.coord.resigned(GroupCoordinator::partition_for("g", kPartitions));
  t.f.loop.run();
  REQUIRE(c.ready());
  CHECK(code_of(c->error_code) == ErrorCode::NOT_COORDINATOR);
  CHECK(t.f.heartbeat("g", t.generation, t.a) == ErrorCode::NOT_COORDINATOR);
}

TEST_CASE("__consumer_offsets records use Kafka's key and value versions") {
  rec::OffsetCommitKey k;
  k.group = "g";
  k.topic = "t";
  k.partition = 3;
  std::string key = encode_key(k);
  REQUIRE(key.size() == 2 + 2 + 1 + 2 + 1 + 4);
  CHECK(key[0] == 0);
  CHECK(key[1] == 1);  // key version 1
  auto decoded = decode_key(key);
  REQUIRE(decoded);
  CHECK(std::get<rec::OffsetCommitKey>(*decoded).partition == 3);
  rec::OffsetCommitValue v;
  v.offset = 99;
  v.leader_epoch = 4;
  v.metadata = "m";
  v.commit_timestamp = 123;
  auto value = encode_value(v);
  CHECK(value[1] == 3);  // value version 3
  auto back = decode_offset_value(value);
  REQUIRE(back);
  CHECK(back->offset == 99);
  CHECK(back->leader_epoch == 4);
  CHECK_FALSE(decode_key(std::string("\x00\x07garbage", 9)));
  CHECK_FALSE(decode_offset_value(value.substr(0, value.size() - 1)));
}

// ---- transactional offset commits (TxnOffsetCommit) -------------------------------------------

TEST_CASE("transactional offsets are invisible until their COMMIT marker, then become the committed offsets") {
  Fixture f;
  CHECK(f.txn_commit({.producer_id = 7, .offsets = {{"t", 0, 5}, {"t", 1, 6}}, .metadata = "m"}) ==
        std::vector<ErrorCode>{ErrorCode::NONE, ErrorCode::NONE});
  // Written as one transactional batch of the producer.
  int32_t p = GroupCoordinator::partition_for("g", kPartitions);
  REQUIRE(f.log.records(p).size() == 2);
  CHECK(f.log.records(p)[0].txn_producer_id == 7);
  CHECK(f.log.records(p)[1].txn_producer_id == 7);
  CHECK(f.committed("g", "t", 0) == -1);
  CHECK(f.fetch("g").partitions.empty());
  // Another producer's marker, or one on another partition, changes nothing.
  f.complete_txn("g", 8, true);
  f.coord.complete_txn((p + 1) % kPartitions, 7, true);
  f.loop.run();
  CHECK(f.committed("g", "t", 0) == -1);

  f.complete_txn("g", 7, true);
  CHECK(f.committed("g", "t", 0) == 5);
  CHECK(f.committed("g", "t", 1) == 6);
  CHECK(f.fetch("g").partitions.size() == 2);
  CHECK(f.fetch_stable("g", "t", 0).error == ErrorCode::NONE);
  CHECK(f.fetch_stable("g", "t", 0).metadata == "m");
}

TEST_CASE("an ABORT marker drops the transaction's offsets and keeps the committed ones") {
  Fixture f;
  CHECK(f.commit("g", -1, "", {{"t", 0, 3}}) == std::vector<int16_t>{0});
  CHECK(f.txn_commit({.producer_id = 7, .offsets = {{"t", 0, 9}}}) == std::vector<ErrorCode>{ErrorCode::NONE});
  CHECK(f.committed("g", "t", 0) == 3);
  f.complete_txn("g", 7, false);
  CHECK(f.committed("g", "t", 0) == 3);
  CHECK(f.fetch_stable("g", "t", 0).error == ErrorCode::NONE);
  // Nothing pending any more: a late COMMIT of the same producer has nothing to apply.
  f.complete_txn("g", 7, true);
  CHECK(f.committed("g", "t", 0) == 3);
}

TEST_CASE("OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT while a transaction holds offsets") {
  Fixture f;
  f.commit("g", -1, "", {{"t", 0, 3}, {"t", 1, 4}});
  f.txn_commit({.producer_id = 7, .offsets = {{"t", 0, 9}}});
  auto unstable = f.fetch_stable("g", "t", 0);
  CHECK(unstable.error == ErrorCode::UNSTABLE_OFFSET_COMMIT);
  CHECK(unstable.offset == -1);
  CHECK(f.fetch_stable("g", "t", 1).error == ErrorCode::NONE);
  CHECK(f.fetch_stable("g", "t", 1).offset == 4);
  // Without require_stable the last committed offset is answered.
  CHECK(f.committed("g", "t", 0) == 3);
  // Every offset of the group (no topics named): the same rule per partition.
  Answer<FetchedOffsets> all;
  f.coord.fetch_offsets("g", std::nullopt, true, all.callback());
  f.loop.run();
  REQUIRE(all.ready());
  REQUIRE(all->partitions.size() == 2);
  CHECK(all->partitions[0].error == ErrorCode::UNSTABLE_OFFSET_COMMIT);
  CHECK(all->partitions[1].error == ErrorCode::NONE);
  f.complete_txn("g", 7, true);
  CHECK(f.fetch_stable("g", "t", 0).error == ErrorCode::NONE);
  CHECK(f.fetch_stable("g", "t", 0).offset == 9);
}

TEST_CASE("between a transactional and a plain commit of one partition, the later record wins") {
  Fixture f;
  // The plain commit is written after the transactional one: it stays at the COMMIT marker.
  f.txn_commit({.producer_id = 7, .offsets = {{"t", 0, 5}}});
  f.commit("g", -1, "", {{"t", 0, 8}});
  f.complete_txn("g", 7, true);
  CHECK(f.committed("g", "t", 0) == 8);
  // The transactional one is written last: it replaces the plain one.
  f.commit("g", -1, "", {{"t", 1, 8}});
  f.txn_commit({.producer_id = 9, .offsets = {{"t", 1, 5}}});
  f.complete_txn("g", 9, true);
  CHECK(f.committed("g", "t", 1) == 5);
}

TEST_CASE("loading a partition: committed transactions' offsets count, aborted ones do not, open ones stay pending") {
  Fixture f;
  int32_t p = GroupCoordinator::partition_for("g", kPartitions);
  f.commit("g", -1, "", {{"t", 0, 1}, {"t", 1, 1}, {"t", 2, 1}, {"t", 3, 1}});
  f.txn_commit({.producer_id = 1, .offsets = {{"t", 0, 10}}});
  f.txn_commit({.producer_id = 2, .offsets = {{"t", 1, 20}}});
  f.txn_commit({.producer_id = 3, .offsets = {{"t", 2, 30}}});
  f.txn_commit({.producer_id = 4, .offsets = {{"t", 3, 40}}});
  f.commit("g", -1, "", {{"t", 3, 44}});  // after producer 4's transactional commit
  f.log.write_marker(p, 1, true);
  f.log.write_marker(p, 2, false);
  f.log.write_marker(p, 4, true);
  f.txn_commit({.group = "other", .producer_id = 5, .offsets = {{"t", 0, 50}}});  // a group with only that

  f.reload();
  CHECK(f.committed("g", "t", 0) == 10);
  CHECK(f.committed("g", "t", 1) == 1);
  CHECK(f.committed("g", "t", 2) == 1);
  CHECK(f.fetch_stable("g", "t", 2).error == ErrorCode::UNSTABLE_OFFSET_COMMIT);
  CHECK(f.committed("g", "t", 3) == 44);
  CHECK(f.fetch_stable("g", "t", 0).error == ErrorCode::NONE);
  CHECK(f.fetch_stable("other", "t", 0).error == ErrorCode::UNSTABLE_OFFSET_COMMIT);
  // The open transactions end after the move.
  f.complete_txn("g", 3, true);
  CHECK(f.committed("g", "t", 2) == 30);
  f.complete_txn("other", 5, true);
  CHECK(f.committed("other", "t", 0) == 50);
}

TEST_CASE("TxnOffsetCommit checks member and generation only when the request carries them") {
  TwoMembers t;
  // v0-v2 carry no member fields: accepted even though the group has members.
  CHECK(t.f.txn_commit({.offsets = {{"t", 0, 1}}}) == std::vector<ErrorCode>{ErrorCode::NONE});
  CHECK(t.f.txn_commit({.generation = t.generation, .member_id = t.a, .offsets = {{"t", 0, 2}}}) ==
        std::vector<ErrorCode>{ErrorCode::NONE});
  CHECK(t.f.txn_commit({.generation = t.generation - 1, .member_id = t.a, .offsets = {{"t", 0, 3}}}) ==
        std::vector<ErrorCode>{ErrorCode::ILLEGAL_GENERATION});
  CHECK(t.f.txn_commit({.generation = t.generation, .member_id = "nobody", .offsets = {{"t", 0, 3}}}) ==
        std::vector<ErrorCode>{ErrorCode::UNKNOWN_MEMBER_ID});
  CHECK(t.f.txn_commit({.group = "unknown-group", .generation = 1, .member_id = "m", .offsets = {{"t", 0, 3}}}) ==
        std::vector<ErrorCode>{ErrorCode::UNKNOWN_MEMBER_ID});
  CHECK(t.f.txn_commit({.group = "", .offsets = {{"t", 0, 3}}}) == std::vector<ErrorCode>{ErrorCode::INVALID_GROUP_ID});
  CHECK(t.f.txn_commit({.offsets = {{"t", 0, 3}, {"t", 1, 3}}, .metadata = std::string(5000, 'x')}) ==
        std::vector<ErrorCode>{ErrorCode::OFFSET_METADATA_TOO_LARGE, ErrorCode::OFFSET_METADATA_TOO_LARGE});
  // A simple consumer's group that does not exist yet is created.
  CHECK(t.f.txn_commit({.group = "simple", .offsets = {{"t", 0, 7}}}) == std::vector<ErrorCode>{ErrorCode::NONE});
  t.f.complete_txn("simple", 1000, true);
  CHECK(t.f.committed("simple", "t", 0) == 7);
}

TEST_CASE("TxnOffsetCommit fences a static member's old incarnation") {
  Fixture f;
  auto a = f.join({.instance_id = "host-a"});
  REQUIRE(a.ready());
  f.sync("g", a->generation_id, a->member_id, {{a->member_id, "A"}}, "host-a");
  auto back = f.join({.instance_id = "host-a"});  // restarted: a new member id
  REQUIRE(back.ready());
  CHECK(f.txn_commit({.generation = a->generation_id, .member_id = a->member_id, .instance_id = "host-a",
                      .offsets = {{"t", 0, 1}}}) == std::vector<ErrorCode>{ErrorCode::FENCED_INSTANCE_ID});
  CHECK(f.txn_commit({.generation = back->generation_id, .member_id = back->member_id, .instance_id = "host-a",
                      .offsets = {{"t", 0, 1}}}) == std::vector<ErrorCode>{ErrorCode::NONE});
}

TEST_CASE("TxnOffsetCommit: coordinator errors, and a failed write leaves nothing pending") {
  ManualLoop loop;
  MemoryGroupLog log(loop);
  GroupCoordinator coord(Fixture::config_without_delay(), loop, log);
  msg::TxnOffsetCommitRequest req;
  req.group_id = "g";
  req.producer_id = 1;
  req.topics.push_back({"t", {{0, 5, -1, std::string()}}});
  auto send = [&] {
    Answer<msg::TxnOffsetCommitResponse> out;
    coord.commit_txn_offsets(req, {}, ClientInfo{}, out.callback());
    loop.run();
    REQUIRE(out.ready());
    return static_cast<ErrorCode>(out->topics.at(0).partitions.at(0).error_code);
  };
  CHECK(send() == ErrorCode::NOT_COORDINATOR);
  coord.became_leader(GroupCoordinator::partition_for("g", kPartitions), kPartitions);
  CHECK(send() == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  log.fail_appends_with(ErrorCode::NOT_ENOUGH_REPLICAS);
  CHECK(send() == ErrorCode::COORDINATOR_NOT_AVAILABLE);
  log.fail_appends_with(ErrorCode::INVALID_PRODUCER_EPOCH);
  CHECK(send() == ErrorCode::INVALID_PRODUCER_EPOCH);
  Answer<FetchedOffsets> stable;
  coord.fetch_offsets("g", std::map<std::string, std::vector<int32_t>>{{"t", {0}}}, true, stable.callback());
  loop.run();
  CHECK(stable->partitions.at(0).error == ErrorCode::NONE);
  coord.stop([] {});
  loop.run();
}
