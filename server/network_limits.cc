#include "server/network_limits.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
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

}  // namespace

ConnectionLimits ConnectionLimits::from_config(const config::BrokerConfig& config) {
  ConnectionLimits l;
  l.max_connections = config.settings().max_connections;
  l.max_per_ip = config.settings().max_connections_per_ip;
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

ConnectionQuotas::ConnectionQuotas(ConnectionLimits limits) : limits_(std::move(limits)) {}

void ConnectionQuotas::set_limits(ConnectionLimits limits) {
  std::lock_guard lk(mu_);
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
