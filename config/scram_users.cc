#include "config/scram_users.h"

#include <charconv>
#include <set>
#include <utility>

namespace kb::config {

namespace {

Error invalid(std::string why) {
  return Error{ErrorCode::INVALID_CONFIG,
               std::move(why) + " (expected SCRAM-SHA-256=[name=admin,password=admin-secret], several separated by "
                                "spaces or ';')"};
}

// Built by appending: GCC 12 warns (-Wrestrict, falsely) on "'" + std::string(...).
std::string quoted(std::string_view v) {
  std::string q = "'";
  q.append(v);
  q += '\'';
  return q;
}

bool separator(char c) { return c == ' ' || c == ',' || c == ';' || c == '\t' || c == '\n'; }

// The body between the brackets: key=value pairs separated by ','. Passwords may not hold ','
// or ']' (as with Kafka's tool, which splits the same way).
Status parse_body(std::string_view body, ScramUserSpec& spec) {
  bool has_password = false;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find(',', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view item = body.substr(start, end - start);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return invalid(quoted(item) + " is not key=value");
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "name") {
      spec.name = value;
    } else if (key == "password") {
      spec.password = value;
      has_password = true;
    } else if (key == "iterations") {
      int32_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || n < 4096 || n > 16384)
        return invalid("iterations must be a number from 4096 to 16384, not " + quoted(value));
      spec.iterations = n;
    } else {
      return invalid("unknown key " + quoted(key) + " (name, password, iterations)");
    }
    start = end + 1;
  }
  if (spec.name.empty()) return invalid("a SCRAM user needs name=");
  if (!has_password) return invalid("SCRAM user " + spec.name + " needs password=");
  return {};
}

}  // namespace

Result<std::vector<ScramUserSpec>> parse_scram_users(std::string_view text) {
  std::vector<ScramUserSpec> out;
  std::set<std::pair<std::string, std::string>> seen;
  size_t i = 0;
  while (true) {
    while (i < text.size() && separator(text[i])) ++i;
    if (i == text.size()) break;
    size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '[')
      return invalid(quoted(text.substr(i)) + " is not MECHANISM=[...]");
    ScramUserSpec spec;
    spec.mechanism = text.substr(i, eq - i);
    if (spec.mechanism != "SCRAM-SHA-256" && spec.mechanism != "SCRAM-SHA-512")
      return invalid("unknown SCRAM mechanism " + quoted(spec.mechanism) + " (SCRAM-SHA-256 or SCRAM-SHA-512)");
    size_t close = text.find(']', eq + 2);
    if (close == std::string_view::npos) return invalid("missing ']' after " + spec.mechanism + "=[");
    if (auto s = parse_body(text.substr(eq + 2, close - eq - 2), spec); !s.ok()) return s.error();
    if (!seen.emplace(spec.mechanism, spec.name).second)
      return invalid("user " + spec.name + " is given twice for " + spec.mechanism);
    out.push_back(std::move(spec));
    i = close + 1;
  }
  return out;
}

}  // namespace kb::config
