// Handler for api DescribeClientQuotas (key 48), versions 0..1.
// Answered from this broker's metadata image, as Kafka's brokers answer it from their
// ClientQuotasImage; a bad filter is the request's error, with no entries.
#include "controller/client_quotas.h"
#include "protocol/messages/describe_client_quotas_request.h"
#include "protocol/messages/describe_client_quotas_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_client_quotas(RequestContext& ctx, Respond respond) {
  msg::DescribeClientQuotasRequest req;
  if (!decode_request(ctx, req, respond)) return;
  std::vector<controller::QuotaFilterPart> filter;
  for (const auto& c : req.components) filter.push_back({c.entity_type, c.match_type, c.match});
  auto image = ctx.broker->image();
  auto found = controller::describe_client_quotas(image->client_quotas(), filter, req.strict);
  msg::DescribeClientQuotasResponse resp;
  if (!Access(ctx).api_allowed())  // DESCRIBE_CONFIGS on the cluster
    found = Error{ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed."};
  if (!found.ok()) {
    resp.error_code = to_wire(found.code());
    resp.error_message = found.error().message;
    resp.entries = std::nullopt;
    ctx.broker->metrics().request_error(ctx.api_key, found.code());
    return send_response(ctx, respond, resp);
  }
  resp.entries.emplace();
  for (const auto& [entity, values] : *found) {
    auto& e = resp.entries->emplace_back();
    for (const auto& p : entity) {
      auto& ed = e.entity.emplace_back();
      ed.entity_type = p.type;
      ed.entity_name = p.name;
    }
    for (const auto& [key, value] : values) {
      auto& v = e.values.emplace_back();
      v.key = key;
      v.value = value;
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
