// Handler for api DescribeCluster (key 60), versions 0..1.
#include "protocol/messages/describe_cluster_request.h"
#include "protocol/messages/describe_cluster_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {
constexpr int8_t kEndpointTypeBroker = 1;
}

void handle_describe_cluster(RequestContext& ctx, Respond respond) {
  msg::DescribeClusterRequest req;
  if (!decode_request(ctx, req, respond)) return;
  auto image = ctx.broker->image();
  msg::DescribeClusterResponse resp;
  resp.endpoint_type = req.endpoint_type;
  if (ctx.api_version >= 1 && req.endpoint_type != kEndpointTypeBroker) {
    // Controllers are not exposed to clients separately: the quorum lives inside the brokers.
    resp.error_code = to_wire(ErrorCode::UNSUPPORTED_ENDPOINT_TYPE);
    resp.error_message = "kbroker serves only broker endpoints";
    send_response(ctx, respond, resp);
    return;
  }
  resp.error_code = to_wire(ErrorCode::NONE);
  resp.cluster_id = image->cluster_id();
  resp.controller_id = ctx.broker->active_controller_id();
  if (req.include_cluster_authorized_operations)
    resp.cluster_authorized_operations =
        Access(ctx).operations(security::ResourceType::CLUSTER, security::kClusterName);
  for (const controller::BrokerInfo* b : image->brokers()) {
    if (b->fenced || b->endpoints.empty()) continue;
    msg::DescribeClusterResponse::DescribeClusterBroker rb;
    rb.broker_id = b->id;
    const controller::Endpoint* e = b->endpoint_for(ctx.listener);
    rb.host = e->host;
    rb.port = e->port;
    rb.rack = b->rack;
    resp.brokers.push_back(std::move(rb));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
