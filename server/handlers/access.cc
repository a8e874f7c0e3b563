#include "server/handlers/access.h"

#include "runtime/rate_limited_log.h"
#include "server/authorization.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using security::AclOperation;
using security::ResourceType;
using Op = AclOperation;
constexpr AccessKind kOpen = AccessKind::kOpen, kCluster = AccessKind::kCluster,
                     kResources = AccessKind::kResources, kController = AccessKind::kController;
constexpr Op kNoOp = Op::UNKNOWN;

// The operations Kafka reports in authorized-operations fields, per resource type
// (AclEntry.supportedOperations).
std::vector<Op> supported_operations(ResourceType type) {
  switch (type) {
    case ResourceType::TOPIC:
      return {Op::READ, Op::WRITE, Op::CREATE, Op::DESCRIBE, Op::DELETE, Op::ALTER, Op::DESCRIBE_CONFIGS,
              Op::ALTER_CONFIGS};
    case ResourceType::GROUP:
      return {Op::READ, Op::DESCRIBE, Op::DELETE};
    case ResourceType::CLUSTER:
      return {Op::CREATE, Op::CLUSTER_ACTION, Op::DESCRIBE_CONFIGS, Op::ALTER_CONFIGS, Op::IDEMPOTENT_WRITE,
              Op::ALTER, Op::DESCRIBE};
    case ResourceType::TRANSACTIONAL_ID:
      return {Op::DESCRIBE, Op::WRITE};
    default:
      return {};
  }
}

}  // namespace

const std::vector<ApiAccess>& api_access() {
  // Kafka 3.9's checks (KafkaApis, ControllerApis, AuthHelper), one line per API key.
  static const std::vector<ApiAccess> table = {
      {0, kResources, kNoOp, "WRITE on each topic; WRITE on the TRANSACTIONAL_ID of transactional records"},
      {1, kResources, kNoOp, "READ on each topic; a follower's fetch CLUSTER_ACTION on the cluster"},
      {2, kResources, kNoOp, "DESCRIBE on each topic"},
      {3, kResources, kNoOp,
       "DESCRIBE on each topic (unlisted when all are asked for); CREATE on the cluster or topic to auto-create"},
      {8, kResources, kNoOp, "READ on the group; READ on each topic"},
      {9, kResources, kNoOp, "DESCRIBE on the group; DESCRIBE on each topic (others left out)"},
      {10, kResources, kNoOp, "DESCRIBE on the group or TRANSACTIONAL_ID"},
      {11, kResources, kNoOp, "READ on the group"},
      {12, kResources, kNoOp, "READ on the group"},
      {13, kResources, kNoOp, "READ on the group"},
      {14, kResources, kNoOp, "READ on the group"},
      {15, kResources, kNoOp, "DESCRIBE on each group"},
      {16, kResources, kNoOp, "DESCRIBE on the cluster lists every group, else the groups with DESCRIBE"},
      {17, kOpen, kNoOp, "SaslHandshake: before authentication"},
      {18, kOpen, kNoOp, "ApiVersions: before authentication"},
      {19, kResources, kNoOp, "CREATE on the cluster, else CREATE on each topic"},
      {20, kResources, kNoOp, "DELETE on each topic"},
      {21, kResources, kNoOp, "DELETE on each topic"},
      {22, kResources, kNoOp,
       "WRITE on the TRANSACTIONAL_ID; without one IDEMPOTENT_WRITE on the cluster or WRITE on any topic"},
      {23, kResources, kNoOp, "DESCRIBE on each topic; a follower's request CLUSTER_ACTION on the cluster"},
      {24, kResources, kNoOp, "WRITE on the TRANSACTIONAL_ID; WRITE on each topic"},
      {25, kResources, kNoOp, "WRITE on the TRANSACTIONAL_ID; READ on the group"},
      {26, kResources, kNoOp, "WRITE on the TRANSACTIONAL_ID"},
      {27, kCluster, Op::CLUSTER_ACTION, "WriteTxnMarkers: CLUSTER_ACTION on the cluster"},
      {28, kResources, kNoOp, "WRITE on the TRANSACTIONAL_ID; READ on the group; READ on each topic"},
      {29, kCluster, Op::DESCRIBE, "DescribeAcls: DESCRIBE on the cluster"},
      {30, kCluster, Op::ALTER, "CreateAcls: ALTER on the cluster"},
      {31, kCluster, Op::ALTER, "DeleteAcls: ALTER on the cluster"},
      {32, kResources, kNoOp, "DESCRIBE_CONFIGS on each topic, on the cluster for broker resources"},
      {33, kResources, kNoOp, "ALTER_CONFIGS on each topic, on the cluster for broker resources"},
      {35, kCluster, Op::DESCRIBE, "DescribeLogDirs: DESCRIBE on the cluster"},
      {36, kOpen, kNoOp, "SaslAuthenticate: the authentication itself"},
      {37, kResources, kNoOp, "ALTER on each topic"},
      {42, kResources, kNoOp, "DELETE on each group"},
      {43, kCluster, Op::ALTER, "ElectLeaders: ALTER on the cluster"},
      {44, kResources, kNoOp, "ALTER_CONFIGS on each topic, on the cluster for broker resources"},
      {45, kCluster, Op::ALTER, "AlterPartitionReassignments: ALTER on the cluster"},
      {46, kCluster, Op::DESCRIBE, "ListPartitionReassignments: DESCRIBE on the cluster"},
      {47, kResources, kNoOp, "DELETE on the group; READ on each topic"},
      {48, kCluster, Op::DESCRIBE_CONFIGS, "DescribeClientQuotas: DESCRIBE_CONFIGS on the cluster"},
      {49, kCluster, Op::ALTER_CONFIGS, "AlterClientQuotas: ALTER_CONFIGS on the cluster"},
      {50, kCluster, Op::DESCRIBE, "DescribeUserScramCredentials: DESCRIBE on the cluster"},
      {51, kCluster, Op::ALTER, "AlterUserScramCredentials: ALTER on the cluster"},
      {52, kController, kNoOp, "Vote: CLUSTER_ACTION"},
      {53, kController, kNoOp, "BeginQuorumEpoch: CLUSTER_ACTION"},
      {56, kController, kNoOp, "AlterPartition: CLUSTER_ACTION"},
      {58, kController, kNoOp, "Envelope: CLUSTER_ACTION; the inner request with the envelope's principal"},
      {59, kController, kNoOp, "FetchSnapshot: CLUSTER_ACTION"},
      {60, kOpen, kNoOp, "DescribeCluster: no check; authorized operations when asked"},
      {61, kResources, kNoOp, "READ on each topic"},
      {62, kController, kNoOp, "BrokerRegistration: CLUSTER_ACTION"},
      {63, kController, kNoOp, "BrokerHeartbeat: CLUSTER_ACTION"},
      {65, kResources, kNoOp, "DESCRIBE on each TRANSACTIONAL_ID; its topics filtered by DESCRIBE"},
      {66, kResources, kNoOp, "the transactions whose TRANSACTIONAL_ID allows DESCRIBE"},
      {67, kController, kNoOp, "AllocateProducerIds: CLUSTER_ACTION"},
      {73, kController, kNoOp, "AssignReplicasToDirs: CLUSTER_ACTION"},
  };
  return table;
}

const ApiAccess* find_api_access(int16_t api_key) {
  for (const auto& a : api_access())
    if (a.api_key == api_key) return &a;
  return nullptr;
}

Access::Access(const RequestContext& ctx) : Access(ctx.broker->authorization(), ctx) {}

Access::Access(const Authorization& authorization, const RequestContext& ctx)
    : api_key_(ctx.api_key) {
  const bool trusted = ctx.forwarded ? ctx.principal == kThisBrokerPrincipal : ctx.from_this_broker;
  if (!trusted) authorizer_ = authorization.current();
  // Only a check that can fail reads them: without an authorizer a request copies nothing.
  if (authorizer_) {
    principal_ = ctx.principal;
    host_ = ctx.host;
  }
}

bool Access::allowed(Op op, ResourceType type, std::string_view name) const {
  if (!authorizer_) return true;
  security::Decision d = authorizer_->authorize(principal_, host_, op, type, name);
  if (!d.allowed) {
    // Kafka's authorizer logger says each denial at INFO; a client retrying must not flood it.
    static runtime::RateLimitedLog denials;
    const HandlerInfo* h = find_handler(api_key_);
    denials.info(principal_, "authorization denied: {} from {} may not {} {} '{}' ({} request, {})",
                 principal_, host_, security::name_of(op), security::name_of(type), name,
                 h ? h->name : "?", d.rule);
  }
  return d.allowed;
}

bool Access::visible(Op op, ResourceType type, std::string_view name) const {
  return !authorizer_ || authorizer_->allowed(principal_, host_, op, type, name);
}

bool Access::any(Op op, ResourceType type) const {
  return !authorizer_ || authorizer_->allowed_on_any(principal_, host_, op, type);
}

bool Access::api_allowed() const {
  const ApiAccess* a = find_api_access(api_key_);
  return !a || a->kind != AccessKind::kCluster || cluster(a->cluster_operation);
}

int32_t Access::operations(ResourceType type, std::string_view name) const {
  int32_t bits = 0;
  for (Op op : supported_operations(type))
    if (visible(op, type, name))
      bits |= int32_t{1} << static_cast<int>(op);
  return bits;
}

}  // namespace kb::server
