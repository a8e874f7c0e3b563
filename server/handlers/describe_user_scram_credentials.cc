// Handler for api DescribeUserScramCredentials (key 50), versions 0..0.
// Answered from this broker's metadata image, as Kafka's ScramImage.describe: the mechanisms
// and iterations of each user (never salts or keys), every user when none is named.
#include <map>

#include "protocol/messages/describe_user_scram_credentials_request.h"
#include "protocol/messages/describe_user_scram_credentials_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_user_scram_credentials(RequestContext& ctx, Respond respond) {
  msg::DescribeUserScramCredentialsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  auto image = ctx.broker->image();
  const auto& all = image->scram_credentials();
  // Users in the order named, and whether named more than once.
  std::vector<std::string> users;
  std::map<std::string, int> times;
  if (!req.users || req.users->empty()) {
    for (const auto& [user, creds] : all) users.push_back(user);
  } else {
    for (const auto& u : *req.users)
      if (times[u.name]++ == 0) users.push_back(u.name);
  }
  msg::DescribeUserScramCredentialsResponse resp;
  if (!Access(ctx).api_allowed()) {  // DESCRIBE on the cluster
    resp.error_code = to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    resp.error_message = "Authorization failed.";
    ctx.broker->metrics().request_error(ctx.api_key, ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
    return send_response(ctx, respond, resp);
  }
  resp.error_code = to_wire(ErrorCode::NONE);
  resp.error_message = std::nullopt;  // Kafka's null for success
  for (const auto& user : users) {
    auto& r = resp.results.emplace_back();
    r.user = user;
    r.error_message = std::nullopt;
    auto it = all.find(user);
    ErrorCode code = ErrorCode::NONE;
    if (times[user] > 1) {
      code = ErrorCode::DUPLICATE_RESOURCE;
      r.error_message = "Cannot describe SCRAM credentials for the same user twice in a single request: " + user;
    } else if (it == all.end()) {
      code = ErrorCode::RESOURCE_NOT_FOUND;
      r.error_message = "Attempt to describe a user credential that does not exist: " + user;
    } else {
      for (const auto& [mech, c] : it->second) {
        auto& info = r.credential_infos.emplace_back();
        info.mechanism = static_cast<int8_t>(mech);
        info.iterations = c.iterations;
      }
    }
    r.error_code = to_wire(code);
    if (code != ErrorCode::NONE) ctx.broker->metrics().request_error(ctx.api_key, code);
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
