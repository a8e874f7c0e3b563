// Handler for api Envelope (key 58), version 0.
// The active controller's side of forwarding (KIP-590, server/forwarding.h): a broker sends a
// client's controller-bound request wrapped with the client's principal and address; it is
// served here by the request's own handler (ctx.forwarded set) and its answer wrapped back.
// Only brokers send Envelopes: on a controller listener, or this broker's own channel. The
// inner request is authorized with the principal and address the envelope carries.
#include <arpa/inet.h>

#include <algorithm>

#include "protocol/messages/alter_client_quotas_response.h"
#include "protocol/messages/alter_configs_response.h"
#include "protocol/messages/alter_partition_reassignments_response.h"
#include "protocol/messages/alter_user_scram_credentials_response.h"
#include "protocol/messages/api_keys.h"
#include "protocol/messages/create_acls_response.h"
#include "protocol/messages/create_partitions_response.h"
#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/delete_acls_response.h"
#include "protocol/messages/delete_topics_response.h"
#include "protocol/messages/elect_leaders_response.h"
#include "protocol/messages/envelope_request.h"
#include "protocol/messages/envelope_response.h"
#include "protocol/messages/incremental_alter_configs_response.h"
#include "protocol/messages/list_partition_reassignments_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "server/broker.h"
#include "server/forwarding.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

constexpr int16_t kEnvelopeVersion = 0;

// The APIs a broker forwards to the controller (Kafka's "forwardable" request types that
// kbroker serves).
bool forwardable(int16_t api_key) {
  switch (api_key) {
    case 19:  // CreateTopics
    case 20:  // DeleteTopics
    case 30:  // CreateAcls
    case 31:  // DeleteAcls
    case 33:  // AlterConfigs
    case 37:  // CreatePartitions
    case 43:  // ElectLeaders
    case 44:  // IncrementalAlterConfigs
    case 45:  // AlterPartitionReassignments
    case 46:  // ListPartitionReassignments
    case 51:  // AlterUserScramCredentials
      return true;
    case 49:  // AlterClientQuotas
      return true;
    default:
      return false;
  }
}

std::string peer_of(const std::vector<uint8_t>& address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.size() == 4 && inet_ntop(AF_INET, address.data(), text, sizeof text)) return std::string(text) + ":0";
  if (address.size() == 16 && inet_ntop(AF_INET6, address.data(), text, sizeof text))
    return "[" + std::string(text) + "]:0";
  return "(forwarded)";
}

constexpr int16_t kNotController = to_wire(ErrorCode::NOT_CONTROLLER);

template <class Items>
bool any_not_controller(const Items& items) {
  return std::any_of(items.begin(), items.end(), [](const auto& i) { return i.error_code == kNotController; });
}

// Whether the inner answer holds NOT_CONTROLLER anywhere (Kafka's errorCounts): the
// controller lost its leadership before the change was committed, so the envelope says
// NOT_CONTROLLER and the forwarding broker asks the new controller. Any other answer is
// relayed as it is, even when the leadership moved after it was written: a committed change
// answered here must not be tried again elsewhere (a created topic would come back as
// TOPIC_ALREADY_EXISTS).
bool holds_not_controller(int16_t api_key, int16_t version, const std::vector<uint8_t>& body) {
  wire::Reader r(std::span<const uint8_t>(body.data(), body.size()));
  auto decoded = [&](auto& m) { return m.decode(r, version); };
  switch (api_key) {
    case 19: {
      msg::CreateTopicsResponse m;
      return decoded(m) && any_not_controller(m.topics);
    }
    case 20: {
      msg::DeleteTopicsResponse m;
      return decoded(m) && any_not_controller(m.responses);
    }
    case 30: {
      msg::CreateAclsResponse m;
      return decoded(m) && any_not_controller(m.results);
    }
    case 31: {
      msg::DeleteAclsResponse m;
      return decoded(m) && any_not_controller(m.filter_results);
    }
    case 33: {
      msg::AlterConfigsResponse m;
      return decoded(m) && any_not_controller(m.responses);
    }
    case 37: {
      msg::CreatePartitionsResponse m;
      return decoded(m) && any_not_controller(m.results);
    }
    case 43: {
      msg::ElectLeadersResponse m;
      if (!decoded(m)) return false;
      return m.error_code == kNotController ||
             std::any_of(m.replica_election_results.begin(), m.replica_election_results.end(),
                         [](const auto& t) { return any_not_controller(t.partition_result); });
    }
    case 44: {
      msg::IncrementalAlterConfigsResponse m;
      return decoded(m) && any_not_controller(m.responses);
    }
    case 45: {
      msg::AlterPartitionReassignmentsResponse m;
      if (!decoded(m)) return false;
      return m.error_code == kNotController || std::any_of(m.responses.begin(), m.responses.end(), [](const auto& t) {
               return any_not_controller(t.partitions);
             });
    }
    case 46: {
      msg::ListPartitionReassignmentsResponse m;
      return decoded(m) && m.error_code == kNotController;
    }
    case 49: {
      msg::AlterClientQuotasResponse m;
      return decoded(m) && any_not_controller(m.entries);
    }
    case 51: {
      msg::AlterUserScramCredentialsResponse m;
      return decoded(m) && any_not_controller(m.results);
    }
    default:
      return false;
  }
}

}  // namespace

void handle_envelope(RequestContext& ctx, Respond respond) {
  msg::EnvelopeRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  msg::EnvelopeResponse resp;
  auto refuse = [&](ErrorCode code) {
    resp.error_code = to_wire(code);
    send_response(ctx, respond, resp);
  };
  // Kafka takes Envelopes only from brokers, on the controller listener.
  if (!ctx.from_this_broker && !broker.controller_listener(ctx.listener)) {
    spdlog::warn("Envelope from {} on listener {} refused: not a controller listener", ctx.peer, ctx.listener);
    return refuse(ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
  }
  if (!broker.controller().active()) return refuse(ErrorCode::NOT_CONTROLLER);
  const auto& data = req.request_data;
  if (data.size() < 4) return refuse(ErrorCode::INVALID_REQUEST);
  const int16_t api_key = static_cast<int16_t>(wire::load_be16(data.data()));
  const int16_t version = static_cast<int16_t>(wire::load_be16(data.data() + 2));
  const HandlerInfo* h = find_handler(api_key);
  if (!h || !forwardable(api_key) || version < h->min_version || version > h->max_version) {
    spdlog::warn("Envelope from {} with api key {} version {} refused: not a forwardable request", ctx.peer, api_key,
                 version);
    return refuse(ErrorCode::INVALID_REQUEST);
  }
  auto frame = std::make_shared<Frame>(data.begin(), data.end());
  wire::Reader r(std::span<const uint8_t>(frame->data(), frame->size()));
  msg::RequestHeader header;
  if (!header.decode(r, msg::request_header_version(api_key, version))) return refuse(ErrorCode::INVALID_REQUEST);

  // The client's principal, which the inner request is authorized with (Kafka: an envelope
  // without a readable one fails PRINCIPAL_DESERIALIZATION_FAILURE).
  std::optional<std::string> principal;
  if (req.request_principal)
    principal = deserialize_principal(std::span<const uint8_t>(req.request_principal->data(), req.request_principal->size()));
  if (!principal) {
    spdlog::warn("Envelope from {} refused: its principal does not decode", ctx.peer);
    return refuse(ErrorCode::PRINCIPAL_DESERIALIZATION_FAILURE);
  }

  RequestContext inner;
  inner.api_key = api_key;
  inner.api_version = version;
  inner.correlation_id = header.correlation_id;
  inner.client_id = header.client_id.value_or("");
  inner.peer = peer_of(req.client_host_address);
  inner.host = inner.peer.substr(0, inner.peer.rfind(':'));
  if (inner.host.size() >= 2 && inner.host.front() == '[') inner.host = inner.host.substr(1, inner.host.size() - 2);
  inner.principal = std::move(*principal);
  inner.body = std::span<uint8_t>(frame->data() + r.position(), frame->size() - r.position());
  inner.frame = std::move(frame);
  inner.broker = ctx.broker;
  inner.scheduler = ctx.scheduler;
  inner.listener = ctx.listener;
  inner.forwarded = true;
  const int32_t correlation_id = header.correlation_id;
  h->fn(inner, [api_key, version, correlation_id, respond](Response&& out) mutable {
    msg::EnvelopeResponse er;
    if (!out.send) {
      er.error_code = to_wire(ErrorCode::INVALID_REQUEST);  // the embedded request did not parse
    } else if (holds_not_controller(api_key, version, out.body.buffer())) {
      er.error_code = kNotController;
    } else {
      msg::ResponseHeader rh;
      rh.correlation_id = correlation_id;
      wire::Writer w;
      rh.encode(w, msg::response_header_version(api_key, version));
      w.write_raw(std::span<const uint8_t>(out.body.buffer().data(), out.body.buffer().size()));
      er.response_data = std::move(w.buffer());
    }
    send_response(kEnvelopeVersion, respond, er);
  });
}

}  // namespace kb::server
