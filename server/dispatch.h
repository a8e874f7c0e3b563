// From a request frame to a handler: header parsing, version checks, and the per-API
// request metrics. Called by the network layer on the connection's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "server/request.h"

namespace kb::server {

struct ParsedRequest {
  RequestContext ctx;
  int16_t response_header_version = 0;
};

enum class ParseOutcome { kOk, kClose };

// Parses the request header of `frame`. kClose when the connection must be closed (garbage,
// an API key Kafka doesn't know or we don't serve, an unsupported version of an API other
// than ApiVersions — what Kafka's SocketServer does); logs one line saying why.
ParseOutcome parse_request(std::shared_ptr<Frame> frame, const std::string& peer,
                           ParsedRequest& out);

// The broker-to-controller requests that run on the controller-request thread (they wait for
// the metadata quorum): AlterPartition, Envelope, BrokerRegistration, BrokerHeartbeat,
// AllocateProducerIds, AssignReplicasToDirs.
bool served_by_controller(int16_t api_key);

// Runs the handler for a parsed request. `respond` is called exactly once.
void dispatch(RequestContext& ctx, Respond respond);

}  // namespace kb::server
