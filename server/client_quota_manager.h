// Client quota enforcement as Kafka's ClientQuotaManager and ControllerMutationQuotaManager
// do it: the quotas of the metadata image (controller/client_quotas.h) looked up per
// (user, client-id) with Kafka's precedence, each client's use measured over
// quota.window.num windows of quota.window.size.seconds, and the throttle time computed as
// Kafka computes it. The network mutes a throttled connection (server/network.cc: a
// Response's throttle_ms); the handlers put the time in throttle_time_ms.
//
// Owner: the Broker; quotas come from the metadata publisher, records from the network threads
// and the controller-request loop. Thread-safety: every method may be called from any thread.
// With no quota of a kind configured, record_*() reads one atomic and returns 0: no lock, no
// allocation. With one, the quotas that apply to a (user, client-id) are resolved once and
// cached until the quotas change, so a request costs one map lookup without allocation under
// the lock, not the eight entity probes of Kafka's precedence.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "controller/client_quotas.h"

namespace prometheus {
struct MetricFamily;
}

namespace kb::server {

// Kafka's Rate over a SampledStat: `samples` windows of `window_ms`; a sample older than all
// of them is reset. The rate divides the sum by the time since the oldest sample began, but by
// at least samples-1 whole windows (so a client's first second does not look like a burst).
class WindowedRate {
 public:
  WindowedRate(int samples, int64_t window_ms) : samples_(static_cast<size_t>(samples)), window_ms_(window_ms) {}
  void record(double value, int64_t now_ms);
  void unrecord(double value, int64_t now_ms) { record(-value, now_ms); }
  double rate_per_second(int64_t now_ms);
  // The time (ms) the rate divides by at `now_ms`.
  int64_t window_size_ms(int64_t now_ms);

 private:
  struct Sample {
    int64_t start_ms = 0;
    double value = 0;
  };
  void purge(int64_t now_ms);
  std::vector<Sample> samples_;
  size_t used_ = 0;     // samples begun so far (up to samples_.size())
  size_t current_ = 0;
  int64_t window_ms_;
};

// Kafka's TokenBucket (KIP-599) for controller mutations: `rate` tokens a second up to a burst
// of rate * samples * window seconds; a record takes tokens and may leave the bucket negative.
class TokenBucket {
 public:
  TokenBucket(double rate, int samples, int64_t window_ms, int64_t now_ms);
  void set_rate(double rate);
  double tokens(int64_t now_ms);
  void record(double value, int64_t now_ms);
  double rate() const { return rate_; }

 private:
  double rate_, burst_;
  double tokens_;
  int64_t last_ms_;
  int samples_;
  int64_t window_ms_;
};

// kRequest: request_percentage (Kafka's ClientRequestQuotaManager), the time a client's
// requests take on the broker's threads, in percent of one thread.
enum class QuotaKind : uint8_t { kProduce = 0, kFetch = 1, kMutation = 2, kRequest = 3 };
inline constexpr size_t kQuotaKinds = 4;

// The quota that applies to one client, and the entity its use is counted under (Kafka's
// quota metric tags: a default entity counts each user or client-id on its own).
struct AppliedQuota {
  double bound = 0;
  std::string user_tag, client_tag;
};
// Kafka's precedence: /users/<u>/clients/<c>, /users/<u>/clients/<default>, /users/<u>,
// /users/<default>/clients/<c>, /users/<default>/clients/<default>, /users/<default>,
// /clients/<c>, /clients/<default>. Nothing when no entity has `key`.
std::optional<AppliedQuota> find_quota(const controller::ClientQuotaMap& quotas, std::string_view key,
                                       std::string_view user, std::string_view client_id);

// The user entity Kafka quotas a principal under: its name without the "User:" type.
std::string_view quota_user(std::string_view principal);

struct QuotaOptions {
  int samples = 11;          // quota.window.num
  int64_t window_ms = 1000;  // quota.window.size.seconds
  int controller_samples = 11;          // controller.quota.window.num
  int64_t controller_window_ms = 1000;  // controller.quota.window.size.seconds
};

// One quota entity's series for /metrics.
struct QuotaSample {
  QuotaKind kind;
  std::string user, client_id;
  double bound = 0;
  double rate = 0;               // per second (bytes, or partition mutations)
  uint64_t throttled_ms = 0;     // throttle time handed out in total
  uint64_t throttled = 0;        // throttled requests
};

class ClientQuotaManager {
 public:
  explicit ClientQuotaManager(QuotaOptions options = {}) : options_(options) {}

  // The quotas from the metadata image (its publisher's thread).
  void update(const controller::ClientQuotaMap& quotas);
  bool enabled(QuotaKind kind) const { return enabled_[static_cast<size_t>(kind)].load(std::memory_order_relaxed); }

  // Produce and fetch bytes (Kafka's ClientQuotaManager): counts `bytes` and returns the
  // throttle time in ms, 0 within the quota or without one.
  int64_t record_bytes(QuotaKind kind, std::string_view user, std::string_view client_id, double bytes,
                       int64_t now_ms);
  // A throttled fetch answers with no data, so its bytes are taken back (Kafka does the same).
  void unrecord_bytes(QuotaKind kind, std::string_view user, std::string_view client_id, double bytes,
                      int64_t now_ms);

  // Controller mutations (partitions created or deleted). Strict (CreateTopics v6+,
  // CreatePartitions v3+, DeleteTopics v5+): the time to wait when the bucket is already
  // empty, and then nothing is taken (THROTTLING_QUOTA_EXCEEDED); 0 when the mutation may go
  // ahead (and then `permits` are taken). Permissive (older versions): takes the permits and
  // returns the throttle time they cost.
  int64_t check_mutation(std::string_view user, std::string_view client_id, double permits, bool strict,
                         int64_t now_ms);

  // Gives back permits taken by check_mutation for a mutation that then failed.
  void refund_mutation(std::string_view user, std::string_view client_id, double permits, int64_t now_ms);

  // request_percentage: `thread_ns` of a request's time on a broker thread, counted as Kafka
  // counts it (percent of one thread over the quota window); the throttle time, at most one
  // quota window (Kafka's cap for request quotas), 0 within the quota or without one.
  int64_t record_request_time(std::string_view user, std::string_view client_id, int64_t thread_ns, int64_t now_ms);

  std::vector<QuotaSample> samples(int64_t now_ms);

 private:
  struct Sensor {
    Sensor(const QuotaOptions& o) : rate(o.samples, o.window_ms) {}
    WindowedRate rate;
    std::optional<TokenBucket> bucket;  // mutations only
    double bound = 0;
    uint64_t throttled_ms = 0, throttled = 0;
    int64_t last_ms = 0;
  };
  using Key = std::tuple<QuotaKind, std::string, std::string>;
  // Per kind, the quota a (user, client-id) has (none: not limited) and, once it has used it,
  // the sensor it counts under.
  struct Resolved {
    std::optional<AppliedQuota> quota;
    Sensor* sensor = nullptr;
  };
  using Applied = std::array<Resolved, kQuotaKinds>;
  // Looked up by string_views: a cached client costs no allocation.
  struct ClientLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::tie(a.first, a.second) < std::tie(b.first, b.second);
    }
  };
  using ClientKey = std::pair<std::string, std::string>;
  using ClientView = std::pair<std::string_view, std::string_view>;

  // The sensor `kind` of (user, client_id) counts under, or null; resolved once per client
  // and quota change (mu_ held).
  Sensor* lookup(QuotaKind kind, std::string_view user, std::string_view client_id, int64_t now_ms);
  Sensor* sensor(QuotaKind kind, const AppliedQuota& q, int64_t now_ms);  // mu_ held
  void expire(int64_t now_ms);                                             // mu_ held
  // Records `value` and returns the throttle time (at most `max_ms` when > 0). mu_ held.
  int64_t record_and_throttle(Sensor& s, double value, int64_t now_ms, int64_t max_ms);

  const QuotaOptions options_;
  std::array<std::atomic<bool>, kQuotaKinds> enabled_{};
  std::mutex mu_;
  controller::ClientQuotaMap quotas_;
  std::map<Key, Sensor> sensors_;
  std::map<ClientKey, Applied, ClientLess> clients_;
  int64_t last_expiry_ms_ = 0;
};

// Kafka's key of each kind ("producer_byte_rate", ...).
std::string_view quota_key(QuotaKind kind);

// The /metrics series of the quota entities in use: kbroker_quota_bound, kbroker_quota_rate,
// kbroker_quota_throttle_time_ms_total and kbroker_quota_throttled_requests_total, labelled
// by quota (Kafka's key), user and client_id ("" where the entity has none).
std::vector<prometheus::MetricFamily> quota_families(const std::vector<QuotaSample>& samples);

}  // namespace kb::server
