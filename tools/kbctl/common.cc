#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {

int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::NETWORK_EXCEPTION:
    case ErrorCode::REQUEST_TIMED_OUT:
      return kExitUnreachable;
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::UNKNOWN_TOPIC_ID:
    case ErrorCode::GROUP_ID_NOT_FOUND:
    case ErrorCode::RESOURCE_NOT_FOUND:
      return kExitNotFound;
    default:
      return kExitFailed;
  }
}

void fail(const Error& e) {
  throw Failure(exit_code_for(e.code), e.message.empty() ? std::string(error_name(e.code)) : e.message);
}

void usage_error(const std::string& message) { throw Failure(kExitUsage, message); }

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

std::optional<int64_t> Args::get_int(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  auto n = parse_int(*v);
  if (!n) usage_error("--" + name + ": expected a number, got '" + *v + "'");
  return n;
}

Client& Context::client() {
  if (!client_) client_ = std::make_unique<Client>(options_);
  return *client_;
}

void Table::print(std::ostream& out) const {
  std::vector<size_t> width(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(headers_);
  for (const auto& r : rows_) measure(r);
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      s += cell;
      if (i + 1 < width.size()) s += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(headers_);
  for (const auto& r : rows_) line(r);
}

void print_result(const Context& ctx, const Json& json, const Table& table) {
  if (ctx.json())
    print_json(ctx.out, json);
  else
    table.print(ctx.out);
}

void print_json(std::ostream& out, const Json& value) {
  // Record bytes need not be UTF-8: replaced rather than refused.
  out << value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

std::string join(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? sep : "") + std::to_string(ids[i]);
  return s;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? sep : "") + items[i];
  return s;
}

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) out.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::pair<std::string, std::string> split_assignment(const std::string& text, const std::string& what) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) usage_error(what + ": expected key=value, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::optional<int64_t> parse_int(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size() || text.size() - i > 18) return std::nullopt;
  for (size_t j = i; j < text.size(); ++j)
    if (text[j] < '0' || text[j] > '9') return std::nullopt;
  return std::stoll(text);
}

int32_t murmur2(std::string_view key) {
  const uint32_t m = 0x5bd1e995;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const uint32_t length = static_cast<uint32_t>(key.size());
  uint32_t h = 0x9747b28c ^ length;
  for (uint32_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = uint32_t(data[i]) | (uint32_t(data[i + 1]) << 8) | (uint32_t(data[i + 2]) << 16) |
                 (uint32_t(data[i + 3]) << 24);
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3:
      h ^= uint32_t(data[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t(data[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t(data[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t murmur2_partition(std::string_view key, int32_t partitions) {
  return static_cast<int32_t>((static_cast<uint32_t>(murmur2(key)) & 0x7fffffff) %
                              static_cast<uint32_t>(partitions));
}

std::optional<int64_t> parse_timestamp(const std::string& text) {
  if (!text.empty() && text[0] == '@') {
    auto ms = parse_int(text.substr(1));
    if (!ms || *ms < 0) return std::nullopt;
    return ms;
  }
  std::tm tm{};
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 ||
      used != 19)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  std::string rest = text.substr(19);
  if (!rest.empty() && rest[0] == '.') {
    size_t digits = 1;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    std::string frac = rest.substr(1, digits - 1);
    if (frac.empty()) return std::nullopt;
    frac = (frac + "000").substr(0, 3);
    ms += std::stoi(frac);
    rest = rest.substr(digits);
  }
  if (rest.empty() || rest == "Z") return ms;
  int hh = 0, mm = 0;
  if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 &&
      std::sscanf(rest.c_str() + 1, "%2d:%2d", &hh, &mm) == 2) {
    int64_t offset = (hh * 60 + mm) * 60000LL;
    return rest[0] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

}  // namespace kb::kbctl
