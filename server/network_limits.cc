#include "server/network_limits.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/config.h"
#include "config/settings.h"

namespace kb::server {

namespace {

bool is_address(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// Every address `host` resolves to, in the text form accepted connections are named by.
std::vector<std::string> resolve(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* src = a->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (::inet_ntop(a->ai_family, src, text, sizeof text)) out.emplace_back(text);
  }
  ::freeaddrinfo(res);
  return out;
}

// Kafka's QuotaUtils.boundedThrottleTime: until `rate` is back at `bound`, at most one window.
int64_t bounded_throttle_ms(WindowedRate& r, double rate, double bound, int64_t now_ms, int64_t window_ms) {
  const auto ms = static_cast<int64_t>(
      std::llround((rate - bound) / bound * static_cast<double>(r.window_size_ms(now_ms))));
  return std::clamp<int64_t>(ms, 1, window_ms);
}

}  // namespace

ConnectionLimits ConnectionLimits::from_config(const config::BrokerConfig& config) {
  ConnectionLimits l;
  l.max_connections = config.settings().max_connections;
  l.max_per_ip = config.settings().max_connections_per_ip;
  l.quota_samples = config.settings().quota_window_num;
  l.quota_window_ms = config.settings().quota_window_size_seconds * 1000LL;
  l.max_creation_rate = config.get_int("max.connection.creation.rate");
  std::string why;
  auto overrides = config::parse_per_ip_overrides(config.settings().max_connections_per_ip_overrides, why);
  if (!overrides) return l;  // refused when the value was set
  for (const auto& [host, count] : *overrides) {
    if (is_address(host)) {
      l.per_ip_overrides[host] = count;
      continue;
    }
    auto addresses = resolve(host);
    if (addresses.empty())
      spdlog::warn("max.connections.per.ip.overrides: cannot resolve {}; its override is left out", host);
    for (const auto& a : addresses) l.per_ip_overrides[a] = count;
  }
  return l;
}

ConnectionQuotas::ConnectionQuotas(ConnectionLimits limits)
    : limits_(std::move(limits)), broker_rate_(limits_.quota_samples, limits_.quota_window_ms) {}

void ConnectionQuotas::set_limits(ConnectionLimits limits) {
  std::lock_guard lk(mu_);
  if (limits.max_creation_rate != limits_.max_creation_rate)
    broker_rate_ = WindowedRate(limits.quota_samples, limits.quota_window_ms);
  limits_ = std::move(limits);
}

bool ConnectionQuotas::slot_available(bool protected_listener) const {
  std::lock_guard lk(mu_);
  return protected_listener || total_ < limits_.max_connections;
}

int32_t ConnectionQuotas::limit_for(const std::string& ip) const {
  auto it = limits_.per_ip_overrides.find(ip);
  return it != limits_.per_ip_overrides.end() ? it->second : limits_.max_per_ip;
}

bool ConnectionQuotas::open(const std::string& ip, int32_t& limit) {
  std::lock_guard lk(mu_);
  limit = limit_for(ip);
  int64_t& n = per_ip_[ip];
  if (n >= limit) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  ++total_;
  return true;
}

void ConnectionQuotas::close(const std::string& ip) {
  std::lock_guard lk(mu_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  if (--it->second <= 0) per_ip_.erase(it);
  --total_;
}

void ConnectionQuotas::set_ip_rates(const controller::ClientQuotaMap& quotas) {
  std::lock_guard lk(mu_);
  ip_rate_quotas_.clear();
  default_ip_rate_.reset();
  for (const auto& [entity, values] : quotas) {
    if (entity.size() != 1 || entity[0].type != controller::kQuotaIp) continue;
    auto v = values.find(controller::kConnectionCreationRate);
    if (v == values.end()) continue;
    if (entity[0].name) ip_rate_quotas_[*entity[0].name] = v->second;
    else default_ip_rate_ = v->second;
  }
  ip_rates_.clear();  // measured afresh under the new quotas, as Kafka re-creates the sensors
}

int64_t ConnectionQuotas::creation_throttle_ms(const std::string& ip, int64_t now_ms) {
  std::lock_guard lk(mu_);
  auto q = ip_rate_quotas_.find(ip);
  const std::optional<double> bound = q != ip_rate_quotas_.end() ? std::optional(q->second) : default_ip_rate_;
  if (!bound) return 0;
  // Addresses idle past the whole window measure 0 anyway: forget them now and then.
  const int64_t span = limits_.quota_samples * limits_.quota_window_ms;
  if (now_ms - last_prune_ms_ >= span) {
    last_prune_ms_ = now_ms;
    std::erase_if(ip_rates_, [&](const auto& kv) { return now_ms - kv.second.last_ms > span; });
  }
  auto it = ip_rates_.find(ip);
  if (it == ip_rates_.end())
    it = ip_rates_.emplace(ip, IpRate{WindowedRate(limits_.quota_samples, limits_.quota_window_ms)}).first;
  IpRate& r = it->second;
  r.last_ms = now_ms;
  r.rate.record(1, now_ms);
  const double rate = r.rate.rate_per_second(now_ms);
  if (rate <= *bound) return 0;
  r.rate.unrecord(1, now_ms);
  return bounded_throttle_ms(r.rate, rate, *bound, now_ms, limits_.quota_window_ms);
}

int64_t ConnectionQuotas::record_creation(int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (limits_.max_creation_rate == INT32_MAX) return 0;
  broker_rate_.record(1, now_ms);
  const double rate = broker_rate_.rate_per_second(now_ms);
  const double bound = limits_.max_creation_rate;
  return rate <= bound ? 0 : bounded_throttle_ms(broker_rate_, rate, bound, now_ms, limits_.quota_window_ms);
}

int64_t ConnectionQuotas::total() const {
  std::lock_guard lk(mu_);
  return total_;
}

int64_t ConnectionQuotas::from(const std::string& ip) const {
  std::lock_guard lk(mu_);
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

int64_t AcceptBackoff::after_failure(int error) {
  switch (error) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: {
      const int64_t pause = next_ms_;
      next_ms_ = std::min(next_ms_ * 2, kMaxMs);
      return pause;
    }
    default:
      return 0;
  }
}

}  // namespace kb::server
