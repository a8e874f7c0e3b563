// Controller-bound client requests (CreateTopics, DeleteTopics, CreatePartitions,
// AlterConfigs, IncrementalAlterConfigs, ElectLeaders, Alter/ListPartitionReassignments,
// CreateAcls, DeleteAcls, AlterUserScramCredentials, AlterClientQuotas) work through any broker, as in
// Kafka (KIP-590): the broker that receives one wraps it in an Envelope (api 58) with the
// client's principal and address and sends it to the active controller through the
// ControllerChannel, which retries while the controller is unknown or moving; the controller
// unwraps it, runs the same handler with `ctx.forwarded` set, and wraps the answer, which the
// receiving broker relays. The active controller forwards to itself the same way (the channel
// hands the envelope to its own dispatch), so there is one path, and clients never see
// NOT_CONTROLLER for these APIs.
//
// Threads: forwarding never blocks: the answer comes on the peer client's thread (another
// controller) or the controller-request loop (this node's). The Envelope handler runs on the
// controller-request loop, where the Controller's writers may block on the quorum.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "server/request.h"

namespace kb::server {

// How long a forward is retried while no controller answers (Kafka's broker forwards with
// request.timeout.ms, 30 s, as the channel's retry bound).
inline constexpr int64_t kForwardTimeoutMs = 30000;

// Sends `body`, a request of ctx's api key and version, to the active controller in an
// Envelope (ctx's correlation id, client id, principal and address go with it). `done` gets
// the controller's response body (after its header) or the error that ended the forward
// (REQUEST_TIMED_OUT when no controller answered in time).
void forward_to_controller(Broker& broker, const RequestContext& ctx, std::vector<uint8_t> body,
                           std::function<void(Result<std::vector<uint8_t>>)> done);

// For the handlers of controller-bound APIs: false when the request is to be served here
// (it came in an Envelope, so this node is the active controller); otherwise forwards the
// request as received and returns true: `respond` gets the controller's answer, or, when
// forwarding failed, the answer `fail(code, message)` builds (every entry with that error).
using FailedForward = std::function<void(Respond& respond, ErrorCode code, const std::string& message)>;
bool forward_unless_controller(RequestContext& ctx, Respond& respond, FailedForward fail);

// The principal an Envelope carries ("User:alice"), in Kafka's DefaultPrincipalData form;
// nullopt for bytes that do not decode.
std::vector<uint8_t> serialize_principal(std::string_view principal);
std::optional<std::string> deserialize_principal(std::span<const uint8_t> data);

// The principal of the broker's own controller-bound requests (topics it creates itself, the
// internal ones and those a Metadata request auto-creates once its client may). Its type is
// no client's (every authenticated or anonymous client is a "User:"), and only brokers send
// Envelopes, so a request carrying it comes from a broker: it passes every check.
inline constexpr std::string_view kThisBrokerPrincipal = "kbroker-broker:self";

}  // namespace kb::server
