// Handler for api OffsetFetch (key 9), versions 0..8 (v8: several groups per request).
#include <memory>
#include <mutex>
#include <set>

#include "protocol/messages/offset_fetch_request.h"
#include "protocol/messages/offset_fetch_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::OffsetFetchResponse;
using Topics = std::optional<std::map<std::string, std::vector<int32_t>>>;

template <class RequestTopics>
Topics topics_of(const RequestTopics& topics) {
  if (!topics) return std::nullopt;
  std::map<std::string, std::vector<int32_t>> out;
  for (const auto& t : *topics) {
    auto& parts = out[t.name];
    parts.insert(parts.end(), t.partition_indexes.begin(), t.partition_indexes.end());
  }
  return out;
}

// Groups the fetched partitions by topic, topics in order of first appearance.
template <class TopicT, class PartitionT>
std::vector<TopicT> by_topic(const coordinator::FetchedOffsets& f, bool partition_errors) {
  std::vector<TopicT> out;
  std::map<std::string, size_t> index;
  for (const auto& p : f.partitions) {
    auto [it, added] = index.emplace(p.topic, out.size());
    if (added) {
      out.emplace_back();
      out.back().name = p.topic;
    }
    PartitionT rp;
    rp.partition_index = p.partition;
    rp.committed_offset = p.offset;
    rp.committed_leader_epoch = p.leader_epoch;
    rp.metadata = p.metadata;
    rp.error_code = to_wire(partition_errors && p.error == ErrorCode::NONE ? f.error : p.error);
    out[it->second].partitions.push_back(std::move(rp));
  }
  return out;
}

coordinator::FetchedOffset nothing_for(const std::string& topic, int32_t partition, ErrorCode error) {
  coordinator::FetchedOffset f;
  f.topic = topic;
  f.partition = partition;
  f.error = error;
  return f;
}

// Kafka's checks: DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED, the coordinator
// not asked), DESCRIBE on each topic: a named topic refused is answered
// TOPIC_AUTHORIZATION_FAILED, and of all the group's offsets only the allowed topics are told.
void fetch_authorized(coordinator::GroupCoordinator& groups, const Access& access, const std::string& group,
                      Topics topics, bool require_stable, std::function<void(coordinator::FetchedOffsets)> done) {
  using security::AclOperation;
  if (!access.group(AclOperation::DESCRIBE, group)) {
    coordinator::FetchedOffsets f;
    f.error = ErrorCode::GROUP_AUTHORIZATION_FAILED;
    if (topics)
      for (const auto& [t, parts] : *topics)
        for (int32_t p : parts) f.partitions.push_back(nothing_for(t, p, ErrorCode::NONE));
    return done(std::move(f));
  }
  std::set<std::string> refused;
  if (topics)
    for (const auto& [t, parts] : *topics)
      if (!access.topic(AclOperation::DESCRIBE, t)) refused.insert(t);
  const bool named = topics.has_value();
  groups.fetch_offsets(group, std::move(topics), require_stable,
                       [access, named, refused = std::move(refused), done = std::move(done)](coordinator::FetchedOffsets f) {
                         std::vector<coordinator::FetchedOffset> kept;
                         for (auto& p : f.partitions) {
                           if (named && refused.count(p.topic)) {
                             kept.push_back(nothing_for(p.topic, p.partition, ErrorCode::TOPIC_AUTHORIZATION_FAILED));
                           } else if (named || access.visible(AclOperation::DESCRIBE, security::ResourceType::TOPIC,
                                                              p.topic)) {
                             kept.push_back(std::move(p));
                           }
                         }
                         f.partitions = std::move(kept);
                         done(std::move(f));
                       });
}

}  // namespace

void handle_offset_fetch(RequestContext& ctx, Respond respond) {
  msg::OffsetFetchRequest req;
  if (!decode_request(ctx, req, respond)) return;
  auto& groups = ctx.broker->groups();
  int16_t v = ctx.api_version;
  const Access access(ctx);
  if (v < 8) {
    // v0 and v1 have no group-level error: each partition carries it.
    fetch_authorized(groups, access, req.group_id, topics_of(req.topics), req.require_stable,
                         [v, respond = std::move(respond)](coordinator::FetchedOffsets f) mutable {
                           Resp resp;
                           if (v >= 2 && f.error != ErrorCode::NONE) {
                             resp.error_code = to_wire(f.error);
                           } else {
                             resp.topics = by_topic<Resp::OffsetFetchResponseTopic,
                                                    Resp::OffsetFetchResponseTopic::OffsetFetchResponsePartition>(f, v < 2);
                           }
                           send_response(v, respond, resp);
                         });
    return;
  }
  // One answer once every group has answered, in request order.
  struct Pending {
    std::mutex mu;
    Resp resp;
    size_t outstanding = 0;
    Respond respond;
  };
  auto pending = std::make_shared<Pending>();
  pending->resp.groups.resize(req.groups.size());
  pending->outstanding = req.groups.size();
  pending->respond = std::move(respond);
  if (req.groups.empty()) return send_response(v, pending->respond, pending->resp);
  for (size_t i = 0; i < req.groups.size(); ++i) {
    const auto& g = req.groups[i];
    pending->resp.groups[i].group_id = g.group_id;
    fetch_authorized(groups, access, g.group_id, topics_of(g.topics), req.require_stable,
                         [pending, i, v](coordinator::FetchedOffsets f) {
                           std::lock_guard lk(pending->mu);
                           auto& rg = pending->resp.groups[i];
                           rg.error_code = to_wire(f.error);
                           if (f.error == ErrorCode::NONE)
                             rg.topics = by_topic<Resp::OffsetFetchResponseGroup::OffsetFetchResponseTopics,
                                                  Resp::OffsetFetchResponseGroup::OffsetFetchResponseTopics::
                                                      OffsetFetchResponsePartitions>(f, false);
                           if (--pending->outstanding == 0) send_response(v, pending->respond, pending->resp);
                         });
  }
}

}  // namespace kb::server
