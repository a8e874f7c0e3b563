// The broker's one clock. Two readings, for two jobs:
// - now_ms(): wall-clock milliseconds since the Unix epoch (Kafka's time base): record and
//   batch timestamps, retention, commit and heartbeat times, anything written down or compared
//   with another process's clock.
// - steady_ms(): monotonic milliseconds from an arbitrary origin, never going back: timeouts,
//   intervals and deadlines inside this process (Raft ticks, snapshot intervals).
// Thread-safe; no state.
#pragma once

#include <cstdint>

namespace kb::runtime {

int64_t now_ms();
int64_t steady_ms();

}  // namespace kb::runtime
