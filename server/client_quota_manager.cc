#include "server/client_quota_manager.h"

#include <algorithm>
#include <cmath>

#include "server/metrics_families.h"

namespace kb::server {

namespace {

using controller::ClientQuotaEntity;
using controller::QuotaEntityPart;

// Sensors of clients idle this long are dropped (Kafka's quota sensors expire after an hour).
constexpr int64_t kSensorIdleMs = 3600'000;
constexpr int64_t kExpiryEveryMs = 60'000;
// Resolved (user, client-id) pairs kept; past it the cache starts over, so a client that
// invents a client-id per connection cannot grow it without bound.
constexpr size_t kMaxCachedClients = 10'000;

}  // namespace

void WindowedRate::record(double value, int64_t now_ms) {
  if (used_ == 0) {
    samples_[0] = {now_ms, 0};
    used_ = 1;
    current_ = 0;
  } else if (now_ms - samples_[current_].start_ms >= window_ms_) {
    current_ = (current_ + 1) % samples_.size();
    if (current_ >= used_) used_ = current_ + 1;
    samples_[current_] = {now_ms, 0};
  }
  samples_[current_].value += value;
}

void WindowedRate::purge(int64_t now_ms) {
  const int64_t expire = static_cast<int64_t>(samples_.size()) * window_ms_;
  for (size_t i = 0; i < used_; ++i)
    if (now_ms - samples_[i].start_ms >= expire) samples_[i] = {now_ms, 0};
}

int64_t WindowedRate::window_size_ms(int64_t now_ms) {
  purge(now_ms);
  int64_t oldest = now_ms;
  for (size_t i = 0; i < used_; ++i) oldest = std::min(oldest, samples_[i].start_ms);
  int64_t elapsed = now_ms - oldest;
  const int64_t full = elapsed / window_ms_;
  const int64_t min_full = static_cast<int64_t>(samples_.size()) - 1;
  if (full < min_full) elapsed += (min_full - full) * window_ms_;
  return std::max<int64_t>(elapsed, 1);
}

double WindowedRate::rate_per_second(int64_t now_ms) {
  const int64_t window = window_size_ms(now_ms);  // purges first
  double total = 0;
  for (size_t i = 0; i < used_; ++i) total += samples_[i].value;
  return total / (static_cast<double>(window) / 1000.0);
}

TokenBucket::TokenBucket(double rate, int samples, int64_t window_ms, int64_t now_ms)
    : rate_(rate), burst_(0), tokens_(0), last_ms_(now_ms), samples_(samples), window_ms_(window_ms) {
  set_rate(rate);
  tokens_ = burst_;
}

void TokenBucket::set_rate(double rate) {
  rate_ = rate;
  burst_ = rate * samples_ * (static_cast<double>(window_ms_) / 1000.0);
  tokens_ = std::min(tokens_, burst_);
}

double TokenBucket::tokens(int64_t now_ms) {
  if (now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
    last_ms_ = now_ms;
  }
  return tokens_;
}

void TokenBucket::record(double value, int64_t now_ms) { tokens_ = std::min(burst_, tokens(now_ms) - value); }

std::string_view quota_key(QuotaKind kind) {
  switch (kind) {
    case QuotaKind::kProduce: return controller::kProducerByteRate;
    case QuotaKind::kFetch: return controller::kConsumerByteRate;
    case QuotaKind::kMutation: return controller::kControllerMutationRate;
    case QuotaKind::kRequest: return controller::kRequestPercentage;
  }
  return {};
}

std::string_view quota_user(std::string_view principal) {
  constexpr std::string_view kType = "User:";
  if (principal.substr(0, kType.size()) == kType) principal.remove_prefix(kType.size());
  return principal;
}

std::optional<AppliedQuota> find_quota(const controller::ClientQuotaMap& quotas, std::string_view key,
                                       std::string_view user, std::string_view client_id) {
  using Name = std::optional<std::string>;
  const std::string u(user), c(client_id);
  // (user part, client part): absent, default (nullopt) or named; the tags each counts under.
  struct Probe {
    bool has_user;
    Name user;
    bool has_client;
    Name client;
    bool user_tag, client_tag;
  };
  const Probe probes[] = {
      {true, u, true, c, true, true},
      {true, u, true, std::nullopt, true, true},
      {true, u, false, std::nullopt, true, false},
      {true, std::nullopt, true, c, true, true},
      {true, std::nullopt, true, std::nullopt, true, true},
      {true, std::nullopt, false, std::nullopt, true, false},
      {false, std::nullopt, true, c, false, true},
      {false, std::nullopt, true, std::nullopt, false, true},
  };
  ClientQuotaEntity entity;
  for (const auto& p : probes) {
    entity.clear();
    if (p.has_client) entity.push_back(QuotaEntityPart{std::string(controller::kQuotaClientId), p.client});
    if (p.has_user) entity.push_back(QuotaEntityPart{std::string(controller::kQuotaUser), p.user});
    auto it = quotas.find(entity);
    if (it == quotas.end()) continue;
    auto v = it->second.find(key);
    if (v == it->second.end()) continue;
    return AppliedQuota{v->second, p.user_tag ? u : std::string(), p.client_tag ? c : std::string()};
  }
  return std::nullopt;
}

void ClientQuotaManager::update(const controller::ClientQuotaMap& quotas) {
  std::lock_guard lk(mu_);
  quotas_ = quotas;
  for (size_t k = 0; k < kQuotaKinds; ++k) {
    const auto key = quota_key(static_cast<QuotaKind>(k));
    bool any = false;
    for (const auto& [entity, values] : quotas_)
      if (values.count(key)) any = true;
    enabled_[k].store(any, std::memory_order_relaxed);
  }
  clients_.clear();
  // A client's series starts over under its new quota (Kafka re-creates the sensors too).
  std::erase_if(sensors_, [&](const auto& kv) {
    const auto& [kind, user, client] = kv.first;
    auto q = find_quota(quotas_, quota_key(kind), user, client);
    return !q || q->bound != kv.second.bound;
  });
}

ClientQuotaManager::Sensor* ClientQuotaManager::lookup(QuotaKind kind, std::string_view user,
                                                       std::string_view client_id, int64_t now_ms) {
  expire(now_ms);
  auto it = clients_.find(ClientView{user, client_id});
  if (it == clients_.end()) {
    if (clients_.size() >= kMaxCachedClients) clients_.clear();
    Applied applied;
    for (size_t k = 0; k < kQuotaKinds; ++k)
      if (enabled_[k].load(std::memory_order_relaxed))
        applied[k].quota = find_quota(quotas_, quota_key(static_cast<QuotaKind>(k)), user, client_id);
    it = clients_.emplace(ClientKey{user, client_id}, std::move(applied)).first;
  }
  Resolved& r = it->second[static_cast<size_t>(kind)];
  if (!r.quota) return nullptr;
  if (!r.sensor) r.sensor = sensor(kind, *r.quota, now_ms);
  r.sensor->last_ms = now_ms;
  return r.sensor;
}

ClientQuotaManager::Sensor* ClientQuotaManager::sensor(QuotaKind kind, const AppliedQuota& q, int64_t now_ms) {
  auto [it, fresh] = sensors_.try_emplace(Key{kind, q.user_tag, q.client_tag}, options_);
  Sensor& s = it->second;
  if (fresh || s.bound != q.bound) {
    s.bound = q.bound;
    if (kind == QuotaKind::kMutation) {
      if (s.bucket) s.bucket->set_rate(q.bound);
      else s.bucket.emplace(q.bound, options_.controller_samples, options_.controller_window_ms, now_ms);
    }
  }
  return &s;
}

void ClientQuotaManager::expire(int64_t now_ms) {
  if (now_ms - last_expiry_ms_ < kExpiryEveryMs) return;
  last_expiry_ms_ = now_ms;
  // The cache points at sensors: it is resolved again after any is dropped.
  if (std::erase_if(sensors_, [&](const auto& kv) { return now_ms - kv.second.last_ms > kSensorIdleMs; }) > 0)
    clients_.clear();
}

int64_t ClientQuotaManager::record_and_throttle(Sensor& s, double value, int64_t now_ms, int64_t max_ms) {
  s.rate.record(value, now_ms);
  const double rate = s.rate.rate_per_second(now_ms);
  if (rate <= s.bound) return 0;
  // Kafka's ClientQuotaManager.throttleTime: how long until the rate over the window would be
  // back at the bound.
  auto ms = static_cast<int64_t>(
      std::llround((rate - s.bound) / s.bound * static_cast<double>(s.rate.window_size_ms(now_ms))));
  if (max_ms > 0) ms = std::min(ms, max_ms);
  if (ms > 0) {
    s.throttled_ms += static_cast<uint64_t>(ms);
    ++s.throttled;
  }
  return ms;
}

int64_t ClientQuotaManager::record_bytes(QuotaKind kind, std::string_view user, std::string_view client_id,
                                         double bytes, int64_t now_ms) {
  if (!enabled(kind)) return 0;
  std::lock_guard lk(mu_);
  Sensor* s = lookup(kind, user, client_id, now_ms);
  return s ? record_and_throttle(*s, bytes, now_ms, 0) : 0;
}

void ClientQuotaManager::unrecord_bytes(QuotaKind kind, std::string_view user, std::string_view client_id,
                                        double bytes, int64_t now_ms) {
  if (!enabled(kind)) return;
  std::lock_guard lk(mu_);
  if (Sensor* s = lookup(kind, user, client_id, now_ms)) s->rate.unrecord(bytes, now_ms);
}

int64_t ClientQuotaManager::record_request_time(std::string_view user, std::string_view client_id, int64_t thread_ns,
                                                int64_t now_ms) {
  if (!enabled(QuotaKind::kRequest)) return 0;
  // Kafka's units: a request that kept a thread busy for the whole second is 100 (percent).
  const double percent = static_cast<double>(thread_ns) * 100.0 / 1e9;
  std::lock_guard lk(mu_);
  Sensor* s = lookup(QuotaKind::kRequest, user, client_id, now_ms);
  return s ? record_and_throttle(*s, percent, now_ms, options_.window_ms) : 0;
}

int64_t ClientQuotaManager::check_mutation(std::string_view user, std::string_view client_id, double permits,
                                           bool strict, int64_t now_ms) {
  if (!enabled(QuotaKind::kMutation)) return 0;
  std::lock_guard lk(mu_);
  Sensor* s = lookup(QuotaKind::kMutation, user, client_id, now_ms);
  if (!s) return 0;
  TokenBucket& b = *s->bucket;
  s->rate.record(permits, now_ms);
  auto wait = [&] { return static_cast<int64_t>(std::llround(-b.tokens(now_ms) / s->bound * 1000.0)); };
  if (strict && b.tokens(now_ms) < 0) {
    s->rate.unrecord(permits, now_ms);
    const int64_t ms = wait();
    s->throttled_ms += static_cast<uint64_t>(ms);
    ++s->throttled;
    return ms;
  }
  b.record(permits, now_ms);
  if (strict || b.tokens(now_ms) >= 0) return 0;
  const int64_t ms = wait();
  s->throttled_ms += static_cast<uint64_t>(ms);
  ++s->throttled;
  return ms;
}

void ClientQuotaManager::refund_mutation(std::string_view user, std::string_view client_id, double permits,
                                         int64_t now_ms) {
  if (!enabled(QuotaKind::kMutation)) return;
  std::lock_guard lk(mu_);
  Sensor* s = lookup(QuotaKind::kMutation, user, client_id, now_ms);
  if (!s) return;
  s->rate.unrecord(permits, now_ms);
  s->bucket->record(-permits, now_ms);
}

std::vector<QuotaSample> ClientQuotaManager::samples(int64_t now_ms) {
  std::vector<QuotaSample> out;
  std::lock_guard lk(mu_);
  for (auto& [key, s] : sensors_) {
    const auto& [kind, user, client] = key;
    out.push_back({kind, user, client, s.bound, s.rate.rate_per_second(now_ms), s.throttled_ms, s.throttled});
  }
  return out;
}

std::vector<prometheus::MetricFamily> quota_families(const std::vector<QuotaSample>& samples) {
  using T = prometheus::MetricType;
  auto bound = metric_family("kbroker_quota_bound",
                             "The quota a client entity is held to (bytes/s; partition mutations/s; percent of a thread)",
                             T::Gauge);
  auto rate = metric_family("kbroker_quota_rate",
                            "A client entity's measured rate over the quota window (bytes/s; mutations/s; percent of a thread)",
                            T::Gauge);
  auto throttle = metric_family("kbroker_quota_throttle_time_ms_total",
                                "Throttle time handed to a client entity over its quota", T::Counter);
  auto throttled = metric_family("kbroker_quota_throttled_requests_total",
                                 "Requests of a client entity throttled by its quota", T::Counter);
  for (const auto& s : samples) {
    std::vector<prometheus::ClientMetric::Label> labels = {
        {"quota", std::string(quota_key(s.kind))}, {"user", s.user}, {"client_id", s.client_id}};
    add_sample(bound, labels, s.bound);
    add_sample(rate, labels, s.rate);
    add_sample(throttle, labels, static_cast<double>(s.throttled_ms));
    add_sample(throttled, labels, static_cast<double>(s.throttled));
  }
  return {std::move(bound), std::move(rate), std::move(throttle), std::move(throttled)};
}

}  // namespace kb::server
