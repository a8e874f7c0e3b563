// How a handler applies a quota's throttle time to its answer, as Kafka does (KIP-219): the
// response carries throttle_time_ms and the connection is muted that long after it leaves;
// for the versions whose clients do not back off by themselves, the answer itself is held
// back that long. A forwarded request (served here as the active controller) is not muted:
// its connection is the forwarding broker's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>

#include "runtime/clock.h"
#include "runtime/event_loop.h"
#include "server/client_quota_manager.h"
#include "server/request.h"

namespace kb::server {

// `respond`, throttled by `throttle_ms` (unchanged when it is 0 or less).
inline Respond throttled(const RequestContext& ctx, Respond respond, int64_t throttle_ms, bool client_throttles) {
  if (throttle_ms <= 0) return respond;
  runtime::EventLoop* loop = ctx.scheduler;
  const bool mute = !ctx.forwarded;
  return [=, respond = std::move(respond)](Response&& out) mutable {
    if (mute) out.throttle_ms = throttle_ms;
    if (client_throttles || !loop) return respond(std::move(out));
    auto held = std::make_shared<Response>(std::move(out));
    loop->after_ms(throttle_ms, [respond, held]() mutable { respond(std::move(*held)); });
  };
}

// The quota user of the request's principal ("User:alice" -> "alice").
inline std::string_view quota_user_of(const RequestContext& ctx) { return quota_user(ctx.principal); }

// controller_mutation_rate for the topic mutations of one CreateTopics, CreatePartitions or
// DeleteTopics request (Kafka's ControllerMutationQuota): strict for the versions that know
// THROTTLING_QUOTA_EXCEEDED, permissive (throttle only) for older ones.
class MutationQuota {
 public:
  MutationQuota(ClientQuotaManager& quotas, const RequestContext& ctx, bool strict)
      : quotas_(quotas), ctx_(ctx), strict_(strict), on_(quotas.enabled(QuotaKind::kMutation)) {}
  // Takes `partitions` permits: false when the quota refuses the mutation (strict only).
  bool admit(double partitions) {
    if (!on_ || partitions <= 0) return true;
    const int64_t ms = quotas_.check_mutation(quota_user_of(ctx_), ctx_.client_id, partitions, strict_,
                                              runtime::steady_ms());
    throttle_ms_ = std::max(throttle_ms_, ms);
    return !(strict_ && ms > 0);
  }
  // An admitted mutation that failed gives its permits back.
  void refund(double partitions) {
    if (on_ && partitions > 0) quotas_.refund_mutation(quota_user_of(ctx_), ctx_.client_id, partitions,
                                                       runtime::steady_ms());
  }
  int64_t throttle_ms() const { return throttle_ms_; }
  static constexpr const char* kMessage = "The throttling quota has been exceeded.";

 private:
  ClientQuotaManager& quotas_;
  const RequestContext& ctx_;
  const bool strict_;
  const bool on_;
  int64_t throttle_ms_ = 0;
};

}  // namespace kb::server
