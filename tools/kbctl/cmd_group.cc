// kbctl group list | describe | seek | delete: consumer groups through their coordinators.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <set>

#include "protocol/messages/delete_groups_request.h"
#include "protocol/messages/delete_groups_response.h"
#include "protocol/messages/describe_groups_request.h"
#include "protocol/messages/describe_groups_response.h"
#include "protocol/messages/list_groups_request.h"
#include "protocol/messages/list_groups_response.h"
#include "protocol/messages/offset_fetch_request.h"
#include "protocol/messages/offset_fetch_response.h"
#include "tools/kbctl/kbctl.h"
#include "tools/kbctl/offsets.h"

namespace kb::kbctl {
namespace {

struct Member {
  std::string member_id, instance_id, client_id, host;
  std::vector<TopicPartition> assigned;
};

struct GroupView {
  int32_t coordinator = -1;
  std::string state, protocol_type, protocol;
  std::vector<Member> members;
  std::map<TopicPartition, int64_t> committed;  // -1: none
};

// A ConsumerProtocolAssignment (any version): int16 version, [topic string, [int32]], then
// user data we do not need. Empty when the bytes are not one.
std::vector<TopicPartition> decode_assignment(const std::vector<uint8_t>& bytes) {
  std::vector<TopicPartition> out;
  if (bytes.size() < 2) return out;
  wire::Reader r(std::span<const uint8_t>(bytes.data(), bytes.size()));
  r.read_int16();
  int32_t topics = r.read_int32();
  for (int32_t i = 0; r.ok() && i < topics; ++i) {
    std::string topic = r.read_string();
    int32_t n = r.read_int32();
    for (int32_t j = 0; r.ok() && j < n; ++j) out.push_back({topic, r.read_int32()});
  }
  if (!r.ok()) out.clear();
  return out;
}

GroupView load_group(Client& c, const std::string& group) {
  GroupView g;
  g.coordinator = must(c.coordinator(group));
  msg::DescribeGroupsRequest dreq;
  dreq.groups = {group};
  auto d = must(c.call<msg::DescribeGroupsRequest, msg::DescribeGroupsResponse>(g.coordinator, dreq, 5));
  for (const auto& dg : d.groups) {
    auto code = static_cast<ErrorCode>(dg.error_code);
    if (code == ErrorCode::GROUP_ID_NOT_FOUND) {
      g.state = "Dead";
      continue;
    }
    if (code != ErrorCode::NONE) fail(Error{code, "group " + group + ": " + c.refusal(g.coordinator, code)});
    g.state = dg.group_state;
    g.protocol_type = dg.protocol_type;
    g.protocol = dg.protocol_data;
    for (const auto& m : dg.members) {
      Member mm{m.member_id, m.group_instance_id.value_or(""), m.client_id, m.client_host, {}};
      if (dg.protocol_type == "consumer") mm.assigned = decode_assignment(m.member_assignment);
      g.members.push_back(std::move(mm));
    }
  }
  msg::OffsetFetchRequest freq;
  freq.group_id = group;
  freq.topics.reset();  // every partition with a committed offset (v2+)
  auto f = must(c.call<msg::OffsetFetchRequest, msg::OffsetFetchResponse>(g.coordinator, freq, 7));
  if (auto code = static_cast<ErrorCode>(f.error_code); code != ErrorCode::NONE)
    fail(Error{code, "offsets of group " + group + ": " + c.refusal(g.coordinator, code)});
  for (const auto& t : f.topics)
    for (const auto& p : t.partitions)
      if (p.error_code == 0 && p.committed_offset >= 0)
        g.committed[{t.name, p.partition_index}] = p.committed_offset;
  return g;
}

bool exists(const GroupView& g) { return !(g.state == "Dead" && g.members.empty() && g.committed.empty()); }

int group_list(Context& ctx, const Args&) {
  auto& c = ctx.client();
  must(c.metadata(std::vector<std::string>{}));
  struct Listed {
    std::string id, type, state;
    int32_t coordinator;
  };
  std::vector<Listed> groups;
  int rc = kExitOk;
  // Each broker lists the groups it coordinates.
  for (int32_t node : c.node_ids()) {
    auto r = c.call<msg::ListGroupsRequest, msg::ListGroupsResponse>(node, msg::ListGroupsRequest{}, 4);
    if (!r.ok()) {
      std::cerr << "kbctl: " << r.error().message << "\n";
      rc = exit_code_for(r.error().code);
      continue;
    }
    if (r->error_code != 0) {
      auto code = static_cast<ErrorCode>(r->error_code);
      std::cerr << "kbctl: " << c.refusal(node, code) << "\n";
      rc = exit_code_for(code);
      continue;
    }
    for (const auto& g : r->groups) groups.push_back({g.group_id, g.protocol_type, g.group_state, node});
  }
  std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  if (ctx.json()) {
    Json j = Json::array();
    for (const auto& g : groups)
      j.push_back({{"group", g.id},
                   {"state", g.state.empty() ? Json(nullptr) : Json(g.state)},
                   {"protocol_type", g.type},
                   {"coordinator", g.coordinator}});
    print_json(ctx.out, j);
  } else {
    Table t({"GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR"});
    for (const auto& g : groups)
      t.add({g.id, g.state.empty() ? "?" : g.state, g.type.empty() ? "-" : g.type,
             std::to_string(g.coordinator)});
    t.print(ctx.out);
  }
  return rc;
}

int group_describe(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  const std::string group = a.positional[0];
  GroupView g = load_group(c, group);
  if (!exists(g)) throw Failure(kExitNotFound, "group " + group + " does not exist");
  // Every partition with a committed offset or an owner.
  std::map<TopicPartition, const Member*> owner;
  for (const auto& m : g.members)
    for (const auto& tp : m.assigned) owner[tp] = &m;
  std::set<TopicPartition> parts;
  std::set<std::string> topics;
  for (const auto& [tp, o] : g.committed) parts.insert(tp);
  for (const auto& [tp, m] : owner) parts.insert(tp);
  for (const auto& tp : parts) topics.insert(tp.topic);
  OffsetLookup ends;
  if (!parts.empty()) {
    auto md = must(c.metadata(std::vector<std::string>(topics.begin(), topics.end())));
    ends = list_offsets(c, md, std::vector<TopicPartition>(parts.begin(), parts.end()), kLatest);
  }
  int64_t total_lag = 0;
  Json rows = Json::array();
  Table t(
      {"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"});
  for (const auto& tp : parts) {
    // -1: unknown (no committed offset, or the leader did not answer).
    auto cit = g.committed.find(tp);
    auto eit = ends.offsets.find(tp);
    const int64_t committed = cit == g.committed.end() ? -1 : cit->second;
    const int64_t end = eit == ends.offsets.end() ? -1 : eit->second;
    const int64_t lag = committed >= 0 && end >= 0 ? std::max<int64_t>(0, end - committed) : -1;
    if (lag > 0) total_lag += lag;
    auto num = [](int64_t v) { return v < 0 ? Json(nullptr) : Json(v); };
    auto text = [](int64_t v, const char* none) { return v < 0 ? std::string(none) : std::to_string(v); };
    const Member* m = owner.count(tp) ? owner[tp] : nullptr;
    rows.push_back({{"topic", tp.topic},
                    {"partition", tp.partition},
                    {"committed_offset", num(committed)},
                    {"log_end_offset", num(end)},
                    {"lag", num(lag)},
                    {"member_id", m ? Json(m->member_id) : Json(nullptr)},
                    {"client_id", m ? Json(m->client_id) : Json(nullptr)},
                    {"host", m ? Json(m->host) : Json(nullptr)}});
    t.add({tp.topic, std::to_string(tp.partition), text(committed, "-"), text(end, "?"), text(lag, "-"),
           m ? m->member_id : "-", m ? m->host : "-", m ? m->client_id : "-"});
  }
  for (const auto& [tp, e] : ends.errors)
    std::cerr << "kbctl: log end offset of " << tp.to_string() << ": " << e.message << "\n";
  if (ctx.json()) {
    Json members = Json::array();
    for (const auto& m : g.members) {
      Json assigned = Json::array();
      for (const auto& tp : m.assigned)
        assigned.push_back({{"topic", tp.topic}, {"partition", tp.partition}});
      members.push_back({{"member_id", m.member_id},
                         {"group_instance_id", m.instance_id.empty() ? Json(nullptr) : Json(m.instance_id)},
                         {"client_id", m.client_id},
                         {"host", m.host},
                         {"assignment", assigned}});
    }
    print_json(ctx.out, {{"group", group},
                         {"coordinator", g.coordinator},
                         {"state", g.state},
                         {"protocol_type", g.protocol_type},
                         {"protocol", g.protocol},
                         {"members", members},
                         {"partitions", rows},
                         {"total_lag", total_lag}});
    return kExitOk;
  }
  ctx.out << "GROUP        " << group << "\n"
          << "COORDINATOR  " << c.describe(g.coordinator) << "\n"
          << "STATE        " << g.state << "\n"
          << "PROTOCOL     " << (g.protocol_type.empty() ? "-" : g.protocol_type)
          << (g.protocol.empty() ? "" : "/" + g.protocol) << "\n"
          << "MEMBERS      " << g.members.size() << "\n"
          << "TOTAL-LAG    " << total_lag << "\n\n";
  t.print(ctx.out);
  return kExitOk;
}

int group_seek(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  const std::string group = a.positional[0];
  auto to = a.get("to");
  if (!to) usage_error("kbctl group seek: --to start|end|OFFSET|@MS|DATETIME is required");
  // What --to means, before anything is asked.
  std::optional<int64_t> offset, timestamp;
  if (*to != "start" && *to != "end") {
    offset = parse_int(*to);
    if (!offset) timestamp = parse_timestamp(*to);
    if ((!offset && !timestamp) || (offset && *offset < 0))
      usage_error("kbctl group seek: --to expects start, end, an offset, @MS or an ISO-8601 time, got '" +
                  *to + "'");
  }
  GroupView g = load_group(c, group);
  if (!g.members.empty())
    fail(Error{ErrorCode::NON_EMPTY_GROUP, "group " + group + " has " + std::to_string(g.members.size()) +
                                               " active member(s) (state " + g.state +
                                               "): stop its consumers before seeking"});
  std::vector<std::string> topics;
  for (const auto& list : a.all("topics"))
    for (auto& name : split_commas(list)) topics.push_back(std::move(name));
  std::vector<TopicPartition> parts;
  msg::MetadataResponse md;
  if (!topics.empty()) {
    md = must(c.metadata(topics));
    for (const auto& name : topics)
      for (const auto& p : topic_or_fail(c, md, name).partitions) parts.push_back({name, p.partition_index});
  } else {
    if (!exists(g))
      throw Failure(kExitNotFound,
                    "group " + group + " does not exist (name --topics to create its offsets)");
    std::set<std::string> names;
    for (const auto& [tp, o] : g.committed) {
      parts.push_back(tp);
      names.insert(tp.topic);
    }
    if (parts.empty()) usage_error("group " + group + " has no committed offsets: name the --topics to seek");
    md = must(c.metadata(std::vector<std::string>(names.begin(), names.end())));
  }
  std::sort(parts.begin(), parts.end());
  auto starts = list_offsets(c, md, parts, kEarliest);
  auto ends = list_offsets(c, md, parts, kLatest);
  OffsetLookup at;
  if (timestamp) at = list_offsets(c, md, parts, *timestamp);
  std::map<TopicPartition, int64_t> target;
  for (const auto& tp : parts) {
    if (!starts.offsets.count(tp) || !ends.offsets.count(tp)) {
      const Error& e = starts.errors.count(tp) ? starts.errors[tp] : ends.errors[tp];
      fail(Error{e.code, "offsets of " + tp.to_string() + ": " + e.message});
    }
    const int64_t lo = starts.offsets[tp], hi = ends.offsets[tp];
    int64_t t;
    if (*to == "start")
      t = lo;
    else if (*to == "end")
      t = hi;
    else if (offset)
      t = std::clamp(*offset, lo, hi);  // as kafka-consumer-groups.sh does
    else {
      if (!at.offsets.count(tp))
        fail(Error{at.errors[tp].code,
                   "offset at " + *to + " of " + tp.to_string() + ": " + at.errors[tp].message});
      t = at.offsets[tp] < 0 ? hi : at.offsets[tp];  // no record that late: the end
    }
    target[tp] = t;
  }
  if (!a.flag("dry-run")) commit_offsets(c, g.coordinator, group, target);
  Json rows = Json::array();
  Table table({"TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET"});
  for (const auto& [tp, o] : target) {
    auto old = g.committed.find(tp);
    rows.push_back({{"topic", tp.topic},
                    {"partition", tp.partition},
                    {"old_offset", old == g.committed.end() ? Json(nullptr) : Json(old->second)},
                    {"new_offset", o}});
    table.add({tp.topic, std::to_string(tp.partition),
               old == g.committed.end() ? "-" : std::to_string(old->second), std::to_string(o)});
  }
  if (ctx.json())
    print_json(ctx.out, {{"group", group}, {"dry_run", a.flag("dry-run")}, {"partitions", rows}});
  else {
    table.print(ctx.out);
    if (a.flag("dry-run")) ctx.out << "(dry run: nothing committed)\n";
  }
  return kExitOk;
}

int group_delete(Context& ctx, const Args& a) {
  auto& c = ctx.client();
  Table t({"GROUP", "STATUS"});
  Json j = Json::array();
  int rc = kExitOk;
  for (const auto& group : a.positional) {
    auto coordinator = c.coordinator(group);
    ErrorCode code = ErrorCode::NONE;
    std::string message;
    if (!coordinator.ok()) {
      code = coordinator.error().code;
      message = coordinator.error().message;
    } else {
      msg::DeleteGroupsRequest req;
      req.groups_names = {group};
      auto r = c.call<msg::DeleteGroupsRequest, msg::DeleteGroupsResponse>(*coordinator, req, 2);
      if (!r.ok()) {
        code = r.error().code;
        message = r.error().message;
      } else {
        for (const auto& res : r->results) code = static_cast<ErrorCode>(res.error_code);
        if (code != ErrorCode::NONE) message = c.refusal(*coordinator, code);
      }
    }
    if (code != ErrorCode::NONE) {
      if (rc == kExitOk) rc = exit_code_for(code);
      std::cerr << "kbctl: group " << group << ": " << message << "\n";
    }
    t.add({group, code == ErrorCode::NONE ? "OK" : std::string(error_name(code))});
    j.push_back({{"group", group},
                 {"error", code == ErrorCode::NONE ? Json(nullptr) : Json(std::string(error_name(code)))},
                 {"error_message", code == ErrorCode::NONE ? Json(nullptr) : Json(message)}});
  }
  print_result(ctx, j, t);
  return rc;
}

}  // namespace

std::vector<Command> group_commands() {
  return {
      {"group",
       "list",
       "",
       "Consumer groups of every broker's coordinator, with their state",
       "",
       {},
       0,
       0,
       group_list},
      {"group",
       "describe",
       "GROUP",
       "Members, their partitions and the lag of each partition",
       "LAG is the partition's log end offset (high watermark, from its leader) minus the offset\n"
       "the group committed.",
       {},
       1,
       1,
       group_describe},
      {"group",
       "seek",
       "GROUP",
       "Move a group's committed offsets (the group must have no members)",
       "--to start | end | OFFSET | @MS | DATETIME. An offset outside a partition's range is moved to\n"
       "its nearest end; a time (@milliseconds since the epoch, or ISO-8601 such as\n"
       "2024-05-01T12:00:00Z) seeks to the first record at or after it (the end when none is).\n"
       "Without --topics every partition the group has an offset for moves.",
       {{"to", 0, "WHERE", "start, end, an offset, @MS or an ISO-8601 time"},
        {"topics", 't', "T1,T2", "only (or also) these topics, every partition (repeatable)"},
        {"dry-run", 0, "", "print the new offsets without committing them"}},
       1,
       1,
       group_seek},
      {"group",
       "delete",
       "GROUP...",
       "Delete groups (with no members) and their committed offsets",
       "",
       {},
       1,
       SIZE_MAX,
       group_delete},
  };
}

}  // namespace kb::kbctl
