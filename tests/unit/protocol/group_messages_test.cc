#include <catch2/catch.hpp>

#include "protocol/messages/delete_groups_request.h"
#include "protocol/messages/describe_groups_response.h"
#include "protocol/messages/find_coordinator_request.h"
#include "protocol/messages/find_coordinator_response.h"
#include "protocol/messages/heartbeat_request.h"
#include "protocol/messages/join_group_request.h"
#include "protocol/messages/join_group_response.h"
#include "protocol/messages/leave_group_request.h"
#include "protocol/messages/list_groups_response.h"
#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_delete_request.h"
#include "protocol/messages/offset_fetch_request.h"
#include "protocol/messages/offset_fetch_response.h"
#include "protocol/messages/sync_group_request.h"
#include "tests/unit/protocol/codec_test_util.h"

using namespace kb;
using namespace kb::msg;
using kb::test::round_trip_all_versions;

TEST_CASE("every version of the consumer-group messages round-trips") {
  FindCoordinatorRequest fc;
  fc.key = "g1";
  fc.coordinator_keys = {"g1", "g2"};
  round_trip_all_versions(fc);
  FindCoordinatorResponse fr;
  fr.host = "h";
  fr.coordinators.push_back({"g1", 1, "h", 9092, 0, std::nullopt, {}});
  round_trip_all_versions(fr);

  JoinGroupRequest jg;
  jg.group_id = "g";
  jg.session_timeout_ms = 10000;
  jg.member_id = "m";
  jg.protocol_type = "consumer";
  jg.protocols.push_back({"range", {1, 2, 3}, {}});
  jg.group_instance_id = "static-1";
  round_trip_all_versions(jg);
  JoinGroupResponse jr;
  jr.generation_id = 4;
  jr.protocol_name = "range";
  jr.leader = "m";
  jr.members.push_back({"m", std::string("static-1"), {9, 9}, {}});
  round_trip_all_versions(jr);

  SyncGroupRequest sg;
  sg.group_id = "g";
  sg.assignments.push_back({"m", {7}, {}});
  round_trip_all_versions(sg);
  HeartbeatRequest hb;
  hb.group_id = "g";
  hb.generation_id = 3;
  round_trip_all_versions(hb);
  LeaveGroupRequest lg;
  lg.group_id = "g";
  lg.member_id = "m";
  lg.members.push_back({"m", std::nullopt, std::string("bye"), {}});
  round_trip_all_versions(lg);

  OffsetCommitRequest oc;
  oc.group_id = "g";
  auto& t = oc.topics.emplace_back();
  t.name = "orders";
  auto& p = t.partitions.emplace_back();
  p.partition_index = 1;
  p.committed_offset = 42;
  p.committed_metadata = "meta";
  round_trip_all_versions(oc);

  OffsetFetchRequest of;
  of.group_id = "g";
  of.topics.emplace().push_back({"orders", {0, 1}, {}});
  auto& g = of.groups.emplace_back();
  g.group_id = "g";
  g.topics.emplace().push_back({"orders", {0}, {}});
  round_trip_all_versions(of);
  OffsetFetchResponse ofr;
  auto& ot = ofr.topics.emplace_back();
  ot.name = "orders";
  auto& op = ot.partitions.emplace_back();
  op.committed_offset = 5;
  round_trip_all_versions(ofr);

  DescribeGroupsResponse dg;
  auto& grp = dg.groups.emplace_back();
  grp.group_id = "g";
  grp.group_state = "Stable";
  grp.members.push_back({"m", std::nullopt, "client", "/127.0.0.1", {1}, {2}, {}});
  round_trip_all_versions(dg);
  ListGroupsResponse lgr;
  lgr.groups.push_back({"g", "consumer", "Stable", "classic", {}});
  round_trip_all_versions(lgr);
  DeleteGroupsRequest dr;
  dr.groups_names = {"a", "b"};
  round_trip_all_versions(dr);
  OffsetDeleteRequest od;
  od.group_id = "g";
  round_trip_all_versions(od);
}
