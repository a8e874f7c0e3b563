// Handler for api AlterUserScramCredentials (key 51), versions 0..0.
// Forwarded to the active controller, which checks Kafka's rules and stores the credentials
// (salt, StoredKey, ServerKey, iterations: never the password) in the metadata log.
#include "protocol/messages/alter_user_scram_credentials_request.h"
#include "protocol/messages/alter_user_scram_credentials_response.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_alter_user_scram_credentials(RequestContext& ctx, Respond respond) {
  msg::AlterUserScramCredentialsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  std::vector<controller::ScramDeletion> deletions;
  std::vector<controller::ScramUpsertion> upsertions;
  for (const auto& d : req.deletions) deletions.push_back({d.name, d.mechanism});
  for (const auto& u : req.upsertions)
    upsertions.push_back({u.name, u.mechanism, u.iterations, std::string(u.salt.begin(), u.salt.end()),
                          std::string(u.salted_password.begin(), u.salted_password.end())});
  const int16_t version = ctx.api_version;
  auto failed = [deletions, upsertions, version](Respond& r, ErrorCode code, const std::string& message) {
    msg::AlterUserScramCredentialsResponse resp;
    std::set<std::string> seen;
    auto add = [&](const std::string& user) {
      if (!seen.insert(user).second) return;
      auto& res = resp.results.emplace_back();
      res.user = user;
      res.error_code = to_wire(code);
      res.error_message = message;
    };
    for (const auto& d : deletions) add(d.user);
    for (const auto& u : upsertions) add(u.user);
    send_response(version, r, resp);
  };
  if (forward_unless_controller(ctx, respond, failed)) return;
  if (!Access(ctx).api_allowed())  // ALTER on the cluster, checked by the controller
    return failed(respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "Authorization failed.");
  msg::AlterUserScramCredentialsResponse resp;
  for (const auto& result : ctx.broker->controller().alter_scram_credentials(deletions, upsertions)) {
    auto& res = resp.results.emplace_back();
    res.user = result.user;
    res.error_code = to_wire(result.error);
    res.error_message = std::nullopt;  // Kafka's null for success
    if (result.error != ErrorCode::NONE) {
      res.error_message = result.message;
      ctx.broker->metrics().request_error(ctx.api_key, result.error);
    }
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
