// The network layer's limits, apart from the sockets so they can be tested alone:
// - ConnectionQuotas: Kafka's ConnectionQuotas. `max.connections` over the broker (a listener
//   at the limit stops accepting, new clients wait in the listen backlog; the inter-broker and
//   controller listeners are exempt when the broker has more than one listener, as Kafka's
//   "protected" listener), `max.connections.per.ip` with `max.connections.per.ip.overrides`
//   (a connection over its address's limit is accepted and closed at once), and the
//   `connection_creation_rate` of the `ip` quota entities (AlterClientQuotas): a connection
//   over its address's rate is not counted and is closed after the throttle time, as Kafka's
//   acceptor holds it (the client cannot reconnect at once).
//   `max.connection.creation.rate` over the broker: past it a listener waits before taking in
//   the next connection (protected listeners exempt).
// - AcceptBackoff: how long the accept loop rests after a failed accept. Out of descriptors
//   (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM) the pending connection stays in the
//   backlog and a new accept fails at once: without a rest the loop spins at 100% CPU.
//
// Thread-safe (ConnectionQuotas: one mutex; the accept loop asks, every network thread gives
// back). Owner: Broker (the limits are dynamic broker configs), used by Network.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "controller/client_quotas.h"
#include "server/client_quota_manager.h"

namespace kb::config {
class BrokerConfig;
}

namespace kb::server {

struct ConnectionLimits {
  int32_t max_connections = INT32_MAX;  // max.connections
  int32_t max_per_ip = INT32_MAX;       // max.connections.per.ip
  // max.connections.per.ip.overrides, by address text (host names resolved when read).
  std::map<std::string, int32_t> per_ip_overrides;
  // The windows connection_creation_rate is measured over (quota.window.num,
  // quota.window.size.seconds), as for every other rate quota.
  int quota_samples = 11;
  int64_t quota_window_ms = 1000;
  int32_t max_creation_rate = INT32_MAX;  // max.connection.creation.rate, per second

  // From the broker's configuration. A host name in the overrides that does not resolve is
  // left out with a warning (Kafka would refuse to start; the value was checked for syntax).
  static ConnectionLimits from_config(const config::BrokerConfig& config);
};

class ConnectionQuotas {
 public:
  explicit ConnectionQuotas(ConnectionLimits limits = {});
  void set_limits(ConnectionLimits limits);

  // Whether a listener may accept one more connection (max.connections); a protected
  // listener always may.
  bool slot_available(bool protected_listener) const;
  // Counts a new connection from `ip`. False, with the address's limit in `limit`, when the
  // address already has that many (the caller closes it and says so).
  bool open(const std::string& ip, int32_t& limit);
  // Gives back what open() counted.
  void close(const std::string& ip);

  // The connection_creation_rate of the `ip` entities of `quotas`: an address's own, else the
  // default entity's; none: unlimited (Kafka's ConnectionQuotas.updateIpConnectionRateQuota).
  void set_ip_rates(const controller::ClientQuotaMap& quotas);
  // A new connection from `ip` at `now_ms`: 0 when it may go ahead (it is counted in the
  // address's rate), else the time (ms, at most one quota window) until the rate is back
  // within the quota; that connection is not counted (Kafka's recordIpConnectionMaybeThrottle).
  int64_t creation_throttle_ms(const std::string& ip, int64_t now_ms);
  // max.connection.creation.rate: counts a connection accepted by a listener that is not
  // exempt; the time (ms, at most one quota window) the listener waits before it takes this
  // connection in, 0 within the rate (Kafka's acceptor waits the same way).
  int64_t record_creation(int64_t now_ms);

  int64_t total() const;
  int64_t from(const std::string& ip) const;

 private:
  int32_t limit_for(const std::string& ip) const;

  struct IpRate {
    WindowedRate rate;
    int64_t last_ms = 0;
  };

  mutable std::mutex mu_;
  ConnectionLimits limits_;
  int64_t total_ = 0;
  std::map<std::string, int64_t> per_ip_;
  std::map<std::string, double, std::less<>> ip_rate_quotas_;
  std::optional<double> default_ip_rate_;
  std::map<std::string, IpRate, std::less<>> ip_rates_;  // addresses seen while a rate applies
  int64_t last_prune_ms_ = 0;
  WindowedRate broker_rate_;  // max.connection.creation.rate
};

class AcceptBackoff {
 public:
  static constexpr int64_t kFirstMs = 20;
  static constexpr int64_t kMaxMs = 1000;
  // The rest before the next accept after a failure with errno `error`: 0 for a
  // connection-specific failure (the peer reset it in the backlog), doubling from kFirstMs to
  // kMaxMs while resources stay exhausted.
  int64_t after_failure(int error);
  void after_success() { next_ms_ = kFirstMs; }

 private:
  int64_t next_ms_ = kFirstMs;
};

}  // namespace kb::server
