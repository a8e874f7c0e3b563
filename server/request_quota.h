// request_percentage as Kafka's ClientRequestQuotaManager applies it: the time a request keeps
// a broker thread busy (here: its handler's run on the network thread, which is where kbroker
// handlers run) is charged to the client's (user, client-id) quota; over it the answer carries
// throttle_time_ms and the connection is muted, as for the byte-rate quotas. Broker- and
// controller-internal traffic and the requests a client needs before it can be throttled
// (ApiVersions, SASL) are exempt, as in Kafka. The network layer (network.cc) calls these;
// they hold no state.
#pragma once

#include <cstdint>

#include "server/request.h"

namespace kb::server {

// Whether the request's time counts against its client's request_percentage: not for the
// cluster actions (controller-only APIs, Envelope, WriteTxnMarkers, broker registration and
// heartbeats, AlterPartition, ...), ApiVersions, SaslHandshake, SaslAuthenticate, nor anything
// on a controller listener (`controller_listener`: the connection knows it) or from this
// broker itself. A follower's Fetch is exempted by its handler (Response::quota_exempt).
bool charged_to_request_quota(const RequestContext& ctx, bool controller_listener);

// Puts a request-quota throttle of `throttle_ms` into an answer: its throttle_time_ms becomes
// the larger of the handler's and this one where the response body begins with that field
// (every response that has one except Produce's and OffsetDelete's) or where the handler says
// it put it (Response::throttle_at), and the connection is muted for it.
void apply_request_throttle(int16_t api_key, int16_t api_version, Response& r, int64_t throttle_ms);

// For a body whose last field is throttle_time_ms (Produce v1+), followed in flexible versions
// by a tagged-field section that must be empty: sets r.throttle_at.
void throttle_is_last_field(Response& r, bool flexible);

}  // namespace kb::server
