// Handler for api ElectLeaders (key 43), versions 0..2.
// Elects the preferred replica (v0+) or, where no live in-sync replica is left, any live
// replica (UNCLEAN, v1+) through the active controller (forwarded there from any broker).
// topic_partitions null means every partition.
// v0 has no top-level error code: a request-wide error is every partition's, as in Kafka's
// ElectLeadersRequest.getErrorResponse (which also fills them for v1+).
#include "protocol/messages/elect_leaders_request.h"
#include "protocol/messages/elect_leaders_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_elect_leaders(RequestContext& ctx, Respond respond) {
  msg::ElectLeadersRequest req;
  if (!decode_request(ctx, req, respond)) return;
  using Response = msg::ElectLeadersResponse;
  const int16_t version = ctx.api_version;
  auto failed = [req, version](Respond& r, ErrorCode code, const std::string& message) {
    Response resp;
    resp.error_code = to_wire(code);
    if (req.topic_partitions)
      for (const auto& t : *req.topic_partitions) {
        auto& topic = resp.replica_election_results.emplace_back();
        topic.topic = t.topic;
        for (int32_t p : t.partitions) {
          auto& pr = topic.partition_result.emplace_back();
          pr.partition_id = p;
          pr.error_code = to_wire(code);
          pr.error_message = message;
        }
      }
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  if (!Access(ctx).api_allowed())  // ALTER on the cluster, checked by the controller
    return failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  std::optional<std::vector<controller::PartitionSelection>> selection;
  if (req.topic_partitions) {
    selection.emplace();
    for (const auto& t : *req.topic_partitions) selection->push_back({t.topic, t.partitions});
  }
  // v0 carries no election type: its field reads 0, PREFERRED.
  auto type = static_cast<controller::ElectionType>(req.election_type);
  auto results = ctx.broker->controller().elect_partition_leaders(type, selection);

  Response resp;
  auto add = [&](Response::ReplicaElectionResult& topic, int32_t partition, ErrorCode error,
                 const std::string& message) {
    auto& p = topic.partition_result.emplace_back();
    p.partition_id = partition;
    p.error_code = to_wire(error);
    if (error != ErrorCode::NONE) {
      p.error_message = message;
      ctx.broker->metrics().request_error(ctx.api_key, error);
    }
  };
  if (!results.ok()) {
    resp.error_code = to_wire(results.code());
    spdlog::info("ElectLeaders refused: {} {}", error_name(results.code()), results.error().message);
    if (req.topic_partitions)
      for (const auto& t : *req.topic_partitions) {
        auto& topic = resp.replica_election_results.emplace_back();
        topic.topic = t.topic;
        for (int32_t p : t.partitions) add(topic, p, results.code(), results.error().message);
      }
    if (resp.replica_election_results.empty())
      ctx.broker->metrics().request_error(ctx.api_key, results.code());
    send_response(ctx, respond, resp);
    return;
  }
  const auto& out = results.value();
  size_t i = 0;
  if (req.topic_partitions) {
    // One entry per requested topic entry, in order, as the controller answered them.
    for (const auto& t : *req.topic_partitions) {
      auto& topic = resp.replica_election_results.emplace_back();
      topic.topic = t.topic;
      for (size_t n = 0; n < t.partitions.size() && i < out.size(); ++n, ++i)
        add(topic, out[i].partition, out[i].error, out[i].message);
    }
  } else {
    for (const auto& r : out) {
      if (resp.replica_election_results.empty() || resp.replica_election_results.back().topic != r.topic)
        resp.replica_election_results.emplace_back().topic = r.topic;
      add(resp.replica_election_results.back(), r.partition, r.error, r.message);
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
