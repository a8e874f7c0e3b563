#include "server/request_quota.h"

#include <algorithm>
#include <climits>

#include "protocol/messages/api_keys.h"
#include "server/dispatch.h"
#include "server/handlers/handlers.h"  // find_handler

namespace kb::server {

namespace {

// Kafka answers these with sendResponseExemptThrottle (cluster actions) or before its request
// quota is consulted at all (ApiVersions, SASL during authentication).
bool exempt_api(int16_t api_key) {
  switch (api_key) {
    case 4:   // LeaderAndIsr
    case 5:   // StopReplica
    case 6:   // UpdateMetadata
    case 7:   // ControlledShutdown
    case 17:  // SaslHandshake
    case 18:  // ApiVersions
    case 27:  // WriteTxnMarkers
    case 36:  // SaslAuthenticate
      return true;
    default:
      return served_by_controller(api_key);  // AlterPartition, Envelope, broker registration...
  }
}

}  // namespace

bool charged_to_request_quota(const RequestContext& ctx, bool controller_listener) {
  if (controller_listener || ctx.from_this_broker || ctx.forwarded || exempt_api(ctx.api_key)) return false;
  const HandlerInfo* h = find_handler(ctx.api_key);
  return h && !h->controller_only;
}

void apply_request_throttle(int16_t api_key, int16_t api_version, Response& r, int64_t throttle_ms) {
  if (throttle_ms <= 0) return;
  r.throttle_ms = std::max(r.throttle_ms, throttle_ms);
  auto& bytes = r.body.buffer();
  const int64_t at = msg::response_leads_with_throttle(api_key, api_version) ? 0 : r.throttle_at;
  if (!r.send || at < 0 || static_cast<size_t>(at) + 4 > bytes.size()) return;
  const auto held = static_cast<int32_t>(wire::load_be32(bytes.data() + at));
  const auto ms = static_cast<int32_t>(std::min<int64_t>(throttle_ms, INT32_MAX));
  if (ms > held) r.body.patch_int32(static_cast<size_t>(at), ms);
}

void throttle_is_last_field(Response& r, bool flexible) {
  r.throttle_at = static_cast<int64_t>(r.body.buffer().size()) - 4 - (flexible ? 1 : 0);
}

}  // namespace kb::server
