// Handler for api DescribeGroups (key 15), versions 0..5.
#include "protocol/messages/describe_groups_request.h"
#include "protocol/messages/describe_groups_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

void handle_describe_groups(RequestContext& ctx, Respond respond) {
  msg::DescribeGroupsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  // Kafka: DESCRIBE on each group; a refused one is answered GROUP_AUTHORIZATION_FAILED.
  using Described = msg::DescribeGroupsResponse::DescribedGroup;
  const Access access(ctx);
  std::vector<std::string> allowed;
  std::vector<Described> refused;
  for (auto& g : req.groups) {
    if (access.group(security::AclOperation::DESCRIBE, g)) {
      allowed.push_back(std::move(g));
      continue;
    }
    Described& d = refused.emplace_back();
    d.error_code = to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    d.group_id = std::move(g);
  }
  ctx.broker->groups().describe_groups(
      std::move(allowed), [v = ctx.api_version, access, operations = req.include_authorized_operations,
                           refused = std::move(refused),
                           respond = std::move(respond)](std::vector<Described> described) mutable {
        msg::DescribeGroupsResponse resp;
        resp.groups = std::move(described);
        if (operations)
          for (Described& d : resp.groups)
            if (d.error_code == 0) d.authorized_operations = access.operations(security::ResourceType::GROUP, d.group_id);
        resp.groups.insert(resp.groups.end(), refused.begin(), refused.end());
        send_response(v, respond, resp);
      });
}

}  // namespace kb::server
