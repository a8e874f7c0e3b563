// Handler for api AlterClientQuotas (key 49), versions 0..1.
// Forwarded to the active controller (KIP-590), which validates each entry as Kafka's
// ClientQuotaControlManager does and writes ClientQuotaRecords; one result per entry.
#include "controller/controller.h"
#include "protocol/messages/alter_client_quotas_request.h"
#include "protocol/messages/alter_client_quotas_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

msg::AlterClientQuotasResponse::EntryData result_for(const msg::AlterClientQuotasRequest::EntryData& entry,
                                                    const Status& s) {
  msg::AlterClientQuotasResponse::EntryData r;
  for (const auto& e : entry.entity) {
    auto& ed = r.entity.emplace_back();
    ed.entity_type = e.entity_type;
    ed.entity_name = e.entity_name;
  }
  r.error_code = to_wire(s.code());
  if (!s.ok()) r.error_message = s.error().message;
  return r;
}

}  // namespace

void handle_alter_client_quotas(RequestContext& ctx, Respond respond) {
  msg::AlterClientQuotasRequest req;
  if (!decode_request(ctx, req, respond)) return;
  const int16_t version = ctx.api_version;
  auto failed = [req, version](Respond& r, ErrorCode code, const std::string& message) {
    msg::AlterClientQuotasResponse resp;
    for (const auto& e : req.entries) resp.entries.push_back(result_for(e, Status(code, message)));
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  if (!Access(ctx).api_allowed())  // ALTER_CONFIGS on the cluster, checked by the controller
    return failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  std::vector<controller::ClientQuotaAlteration> entries;
  for (const auto& e : req.entries) {
    auto& a = entries.emplace_back();
    for (const auto& p : e.entity) a.entity.push_back({p.entity_type, p.entity_name});
    for (const auto& op : e.ops) a.ops.push_back({op.key, op.value, op.remove});
  }
  std::vector<Status> results = ctx.broker->controller().alter_client_quotas(entries, req.validate_only);
  msg::AlterClientQuotasResponse resp;
  for (size_t i = 0; i < req.entries.size(); ++i) {
    resp.entries.push_back(result_for(req.entries[i], results[i]));
    if (!results[i].ok()) {
      ctx.broker->metrics().request_error(ctx.api_key, results[i].code());
      spdlog::info("client quota change for {} refused: {} {}", controller::quota_entity_text(entries[i].entity), error_name(results[i].code()),
                   results[i].error().message);
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
