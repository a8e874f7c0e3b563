#include "config/parse.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>

namespace kb::config::detail {

std::string trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, b - a + 1));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string_view::npos) comma = v.size();
    std::string item = trim(v.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

std::optional<int64_t> parse_long(std::string_view v) {
  std::string s(v);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(x);
}

namespace {

// 'text', built by appending: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...).
std::string quote(std::string_view v) {
  std::string s;
  s.reserve(v.size() + 2);
  s += '\'';
  s += v;
  s += '\'';
  return s;
}

// Kafka's host pattern (Utils.validHostPattern): letters, digits and - % . _ :
bool valid_host(std::string_view h) {
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '%' || c == '.' || c == '_' ||
           c == ':';
  });
}

std::optional<uint16_t> parse_port(std::string_view p) {
  if (p.empty() || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  auto x = parse_long(p);
  if (!x || *x > 65535) return std::nullopt;
  return static_cast<uint16_t>(*x);
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view v, std::string& why) {
  HostPort hp;
  std::string_view port_text;
  if (!v.empty() && v.front() == '[') {
    size_t close = v.find(']');
    if (close == std::string_view::npos || close + 1 >= v.size() || v[close + 1] != ':') {
      why = quote(v) + " is not [ipv6-address]:port";
      return std::nullopt;
    }
    hp.host = std::string(v.substr(1, close - 1));
    port_text = v.substr(close + 2);
  } else {
    size_t colon = v.rfind(':');
    if (colon == std::string_view::npos) {
      why = quote(v) + " has no :port";
      return std::nullopt;
    }
    hp.host = std::string(v.substr(0, colon));
    port_text = v.substr(colon + 1);
  }
  if (!valid_host(hp.host)) {
    why = quote(hp.host) + " is not a host name or address";
    return std::nullopt;
  }
  auto port = parse_port(port_text);
  if (!port) {
    why = quote(port_text) + " is not a port (0-65535)";
    return std::nullopt;
  }
  hp.port = *port;
  return hp;
}

std::optional<Listener> parse_listener(std::string_view v, std::string& why) {
  size_t sep = v.find("://");
  if (sep == std::string_view::npos) {
    why = quote(v) + " is not NAME://host:port";
    return std::nullopt;
  }
  Listener l;
  for (char c : v.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      why = quote(v) + " has a listener name that is not letters, digits, _ and -";
      return std::nullopt;
    }
    l.name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (l.name.empty()) {
    why = quote(v) + " has no listener name before ://";
    return std::nullopt;
  }
  std::string hp_why;
  auto hp = parse_host_port(v.substr(sep + 3), hp_why);
  if (!hp) {
    why = quote(v) + ": " + hp_why;
    return std::nullopt;
  }
  l.host = hp->host;
  l.port = hp->port;
  return l;
}

std::optional<QuorumVoter> parse_voter(std::string_view v, std::string& why) {
  size_t at = v.find('@');
  auto form = [&] { return quote(v) + " is not {id}@{host}:{port}"; };
  if (at == std::string_view::npos || v.find('@', at + 1) != std::string_view::npos) {
    why = form();
    return std::nullopt;
  }
  auto id = parse_long(v.substr(0, at));
  if (!id || *id < 0 || *id > INT32_MAX) {
    why = form() + ": the id must be a non-negative integer";
    return std::nullopt;
  }
  std::string hp_why;
  auto hp = parse_host_port(v.substr(at + 1), hp_why);
  if (!hp || hp->host.empty()) {
    why = form() + (hp ? ": the host is empty" : ": " + hp_why);
    return std::nullopt;
  }
  if (hp->host == "0.0.0.0") {  // Kafka: a voter must be reachable, the wildcard is not
    why = quote(v) + ": 0.0.0.0 is not a routable address";
    return std::nullopt;
  }
  return QuorumVoter{static_cast<int32_t>(*id), hp->host, hp->port};
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_protocol_map(std::string_view v,
                                                                                   std::string& why) {
  static const std::vector<std::string> kProtocols = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : split_list(v)) {
    size_t colon = entry.find(':');
    if (colon == std::string::npos) {
      why = quote(entry) + " is not LISTENER_NAME:SECURITY_PROTOCOL";
      return std::nullopt;
    }
    std::string name, proto = trim(entry.substr(colon + 1));
    for (char c : trim(entry.substr(0, colon)))
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (char& c : proto) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name.empty()) {
      why = quote(entry) + " has no listener name";
      return std::nullopt;
    }
    if (std::find(kProtocols.begin(), kProtocols.end(), proto) == kProtocols.end()) {
      why = quote(entry) + ": security protocol must be one of: " + join(kProtocols, ", ");
      return std::nullopt;
    }
    for (const auto& [n, p] : out) {
      if (n == name) {
        why = "listener name " + name + " is mapped twice";
        return std::nullopt;
      }
    }
    out.emplace_back(name, proto);
  }
  return out;
}

const std::vector<Synonym>& synonyms_of(std::string_view topic_config) {
  constexpr int64_t kHour = 3600LL * 1000, kMinute = 60LL * 1000;
  // Kafka's ServerTopicConfigSynonyms, for the topic configs kbroker knows.
  static const std::map<std::string, std::vector<Synonym>, std::less<>> kTable = {
      {"segment.bytes", {{"log.segment.bytes", 1}}},
      {"segment.ms", {{"log.roll.ms", 1}, {"log.roll.hours", kHour}}},
      {"segment.jitter.ms", {{"log.roll.jitter.ms", 1}, {"log.roll.jitter.hours", kHour}}},
      {"segment.index.bytes", {{"log.index.size.max.bytes", 1}}},
      {"flush.messages", {{"log.flush.interval.messages", 1}}},
      {"flush.ms", {{"log.flush.interval.ms", 1}, {"log.flush.scheduler.interval.ms", 1}}},
      {"retention.bytes", {{"log.retention.bytes", 1}}},
      {"retention.ms",
       {{"log.retention.ms", 1}, {"log.retention.minutes", kMinute}, {"log.retention.hours", kHour}}},
      {"max.message.bytes", {{"message.max.bytes", 1}}},
      {"index.interval.bytes", {{"log.index.interval.bytes", 1}}},
      {"delete.retention.ms", {{"log.cleaner.delete.retention.ms", 1}}},
      {"min.compaction.lag.ms", {{"log.cleaner.min.compaction.lag.ms", 1}}},
      {"max.compaction.lag.ms", {{"log.cleaner.max.compaction.lag.ms", 1}}},
      {"file.delete.delay.ms", {{"log.segment.delete.delay.ms", 1}}},
      {"min.cleanable.dirty.ratio", {{"log.cleaner.min.cleanable.ratio", 1}}},
      {"cleanup.policy", {{"log.cleanup.policy", 1}}},
      {"unclean.leader.election.enable", {{"unclean.leader.election.enable", 1}}},
      {"min.insync.replicas", {{"min.insync.replicas", 1}}},
      {"compression.type", {{"compression.type", 1}}},
      {"preallocate", {{"log.preallocate", 1}}},
      {"message.timestamp.type", {{"log.message.timestamp.type", 1}}},
      {"message.timestamp.difference.max.ms", {{"log.message.timestamp.difference.max.ms", 1}}},
      // Kafka 3.9's topic configs kbroker accepts without using them (kafka_compat.cc).
      {"message.format.version", {{"log.message.format.version", 1}}},
      {"message.downconversion.enable", {{"log.message.downconversion.enable", 1}}},
      {"compression.gzip.level", {{"compression.gzip.level", 1}}},
      {"compression.lz4.level", {{"compression.lz4.level", 1}}},
      {"compression.zstd.level", {{"compression.zstd.level", 1}}},
  };
  static const std::vector<Synonym> kNone;
  auto it = kTable.find(topic_config);
  return it == kTable.end() ? kNone : it->second;
}

bool is_ipv4_literal(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6_literal(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

}  // namespace kb::config::detail
