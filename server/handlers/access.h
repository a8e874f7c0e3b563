// What the request's principal may do: Kafka's AuthHelper for the handlers, over one snapshot
// of the broker's authorizer (server/authorization.h). Without authorizer.class.name every
// check passes, as in Kafka without an authorizer.
//
// Trust: kbroker's own broker-to-controller traffic (ctx.from_this_broker, which never crosses
// the network) passes every check, as Kafka's does when the broker principal is in super.users,
// which Kafka's docs require. The quorum's and the brokers' controller APIs (kController) are
// served on a controller listener only (dispatch refuses them elsewhere) and checked no further;
// any other API on that listener is checked like a client's. A forwarded request (Envelope) is
// the client's own: it is checked with the principal the envelope carries, unless that is the
// broker's own (kThisBrokerPrincipal: topics the broker creates itself).
//
// api_access() is the table of every API's rule, one line per API key; the unit tests hold it
// to handlers(), so a new API cannot arrive without a rule.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "security/authorizer.h"
#include "server/handlers/handlers.h"
#include "server/request.h"

namespace kb::server {

class Authorization;

enum class AccessKind {
  kOpen,        // no check (ApiVersions, SASL): anyone may ask
  kCluster,     // one operation on the CLUSTER resource decides the whole request
  kResources,   // the handler checks each topic / group / transactional id the request names
  kController,  // a quorum or broker-to-controller API: controller listener only (trusted)
};

struct ApiAccess {
  int16_t api_key;
  AccessKind kind;
  security::AclOperation cluster_operation;  // kCluster: the operation; otherwise UNKNOWN
  const char* rule;                          // Kafka's check, in words
};

// Every API kbroker serves or is about to (the security APIs), by key.
const std::vector<ApiAccess>& api_access();
const ApiAccess* find_api_access(int16_t api_key);

class Access {
 public:
  explicit Access(const RequestContext& ctx);
  Access(const Authorization& authorization, const RequestContext& ctx);

  // True when the check passes (no authorizer, trusted caller, or the authorizer allows it).
  bool allowed(security::AclOperation op, security::ResourceType type, std::string_view name) const;
  // As allowed, without the denial's log line: for filters that leave things out of a listing.
  bool visible(security::AclOperation op, security::ResourceType type, std::string_view name) const;
  bool cluster(security::AclOperation op) const {
    return allowed(op, security::ResourceType::CLUSTER, security::kClusterName);
  }
  bool topic(security::AclOperation op, std::string_view name) const {
    return allowed(op, security::ResourceType::TOPIC, name);
  }
  bool group(security::AclOperation op, std::string_view name) const {
    return allowed(op, security::ResourceType::GROUP, name);
  }
  bool transactional_id(security::AclOperation op, std::string_view name) const {
    return allowed(op, security::ResourceType::TRANSACTIONAL_ID, name);
  }
  // Kafka's authorizeByResourceType: some resource of `type` allows `op` (InitProducerId
  // without a transactional id takes WRITE on any topic).
  bool any(security::AclOperation op, security::ResourceType type) const;
  // The kCluster rule of this request's API (true for APIs of another kind).
  bool api_allowed() const;

  // Kafka's authorized-operations bitfield: bit n set when operation code n is allowed, over
  // the operations the resource type supports.
  int32_t operations(security::ResourceType type, std::string_view name) const;

  bool enforced() const { return authorizer_ != nullptr; }

 private:
  // Copies (taken only when an authorizer checks), so an answer completed later (a group's
  // offsets) can still filter with them.
  std::shared_ptr<const security::Authorizer> authorizer_;  // null: every check passes
  std::string principal_;
  std::string host_;
  int16_t api_key_ = 0;
};

// A refusal of the whole request: `Message` with its error_code set and every other field at
// its default (Kafka's getErrorResponse for the APIs whose answer is one error).
template <class Message>
void refuse_request(RequestContext& ctx, Respond& respond, ErrorCode code) {
  Message m;
  m.error_code = to_wire(code);
  send_response(ctx, respond, m);
}

// Takes the topics `refused(name)` picks out of a request's `topics` and answers each of their
// partitions `code` (the per-topic refusals of OffsetCommit, TxnOffsetCommit, OffsetDelete...).
template <class ResponseTopic, class RequestTopic, class Refused>
std::vector<ResponseTopic> take_refused(std::vector<RequestTopic>& topics, Refused&& refused, ErrorCode code) {
  std::vector<ResponseTopic> out;
  std::vector<RequestTopic> kept;
  for (auto& t : topics) {
    if (!refused(t.name)) {
      kept.push_back(std::move(t));
      continue;
    }
    auto& rt = out.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      rp.error_code = to_wire(code);
    }
  }
  topics = std::move(kept);
  return out;
}

}  // namespace kb::server
