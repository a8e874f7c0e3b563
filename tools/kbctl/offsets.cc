#include "tools/kbctl/offsets.h"

#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/list_offsets_response.h"
#include "protocol/messages/offset_commit_request.h"
#include "protocol/messages/offset_commit_response.h"
#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {

int32_t leader_of(const msg::MetadataResponse& md, const TopicPartition& tp) {
  for (const auto& t : md.topics)
    if (t.name && *t.name == tp.topic)
      for (const auto& p : t.partitions)
        if (p.partition_index == tp.partition) return p.leader_id;
  return -1;
}

const msg::MetadataResponse::MetadataResponseTopic& topic_or_fail(Client& client,
                                                                  const msg::MetadataResponse& md,
                                                                  const std::string& name) {
  for (const auto& t : md.topics) {
    if (!t.name || *t.name != name) continue;
    auto code = static_cast<ErrorCode>(t.error_code);
    if (code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION || code == ErrorCode::INVALID_TOPIC_EXCEPTION)
      throw Failure(kExitNotFound,
                    "topic " + name + " does not exist (" + std::string(error_name(code)) + ")");
    if (code != ErrorCode::NONE && t.partitions.empty())
      fail(Error{code, "topic " + name + ": " + client.refusal(-1, code)});
    return t;
  }
  throw Failure(kExitNotFound, "topic " + name + " does not exist");
}

OffsetLookup list_offsets(Client& client, const msg::MetadataResponse& md,
                          const std::vector<TopicPartition>& tps, int64_t timestamp) {
  OffsetLookup out;
  std::map<int32_t, std::map<std::string, std::vector<int32_t>>> by_leader;
  for (const auto& tp : tps) {
    int32_t leader = leader_of(md, tp);
    if (leader < 0)
      out.errors[tp] = Error{ErrorCode::LEADER_NOT_AVAILABLE, tp.to_string() + " has no leader"};
    else
      by_leader[leader][tp.topic].push_back(tp.partition);
  }
  for (const auto& [leader, topics] : by_leader) {
    msg::ListOffsetsRequest req;
    req.replica_id = -1;
    req.isolation_level = 0;
    for (const auto& [name, parts] : topics) {
      auto& t = req.topics.emplace_back();
      t.name = name;
      for (int32_t p : parts) {
        auto& lp = t.partitions.emplace_back();
        lp.partition_index = p;
        lp.timestamp = timestamp;
      }
    }
    // v1+: one offset per partition; v8 adds tiered storage's offsets.
    auto r = client.call<msg::ListOffsetsRequest, msg::ListOffsetsResponse>(leader, req, 7);
    if (!r.ok()) {
      for (const auto& [name, parts] : topics)
        for (int32_t p : parts) out.errors[{name, p}] = r.error();
      continue;
    }
    const bool v0 = client.last_version() == 0;
    for (const auto& t : r->topics)
      for (const auto& p : t.partitions) {
        TopicPartition tp{t.name, p.partition_index};
        auto code = static_cast<ErrorCode>(p.error_code);
        if (code != ErrorCode::NONE) {
          out.errors[tp] = Error{code, tp.to_string() + ": " + client.refusal(leader, code)};
          continue;
        }
        if (v0)
          out.offsets[tp] = p.old_style_offsets.empty() ? -1 : p.old_style_offsets.front();
        else
          out.offsets[tp] = p.offset;
      }
  }
  return out;
}

void commit_offsets(Client& client, int32_t coordinator, const std::string& group,
                    const std::map<TopicPartition, int64_t>& offsets) {
  msg::OffsetCommitRequest req;
  req.group_id = group;
  req.generation_id_or_member_epoch = -1;
  for (const auto& [tp, o] : offsets) {
    if (req.topics.empty() || req.topics.back().name != tp.topic) req.topics.emplace_back().name = tp.topic;
    auto& cp = req.topics.back().partitions.emplace_back();
    cp.partition_index = tp.partition;
    cp.committed_offset = o;
  }
  // v9 is the new consumer protocol's (member epochs).
  auto resp = must(client.call<msg::OffsetCommitRequest, msg::OffsetCommitResponse>(coordinator, req, 8));
  for (const auto& t : resp.topics)
    for (const auto& p : t.partitions)
      if (auto code = static_cast<ErrorCode>(p.error_code); code != ErrorCode::NONE)
        fail(Error{code, "committing " + t.name + "-" + std::to_string(p.partition_index) + " for group " +
                             group + ": " + client.refusal(coordinator, code)});
}

}  // namespace kb::kbctl
