#include "security/principal_mapping.h"

#include <algorithm>
#include <cctype>

namespace kb::security {

namespace {

// One "pattern/" or "replacement/" part: up to the next '/' not escaped by '\'; the escape
// stays (it means the same inside a regex, and "\/" is a literal '/').
std::optional<std::string> until_slash(std::string_view text, size_t& pos) {
  std::string out;
  for (; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == '\\' && pos + 1 < text.size()) {
      if (text[pos + 1] == '/') {
        out += '/';
      } else {
        out += c;
        out += text[pos + 1];
      }
      ++pos;
      continue;
    }
    if (c == '/') {
      ++pos;
      return out;
    }
    out += c;
  }
  return std::nullopt;
}

void skip(std::string_view text, size_t& pos, auto pred) {
  while (pos < text.size() && pred(text[pos])) ++pos;
}

}  // namespace

Result<PrincipalMapper> PrincipalMapper::parse(std::string_view rules) {
  PrincipalMapper out;
  auto invalid = [](std::string_view rule) {
    return Error{ErrorCode::INVALID_CONFIG, "ssl.principal.mapping.rules: invalid rule: " + std::string(rule)};
  };
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t pos = 0;
  while (true) {
    skip(rules, pos, space);
    if (pos >= rules.size()) break;
    const size_t start = pos;
    Rule rule;
    if (rules.substr(pos).starts_with("DEFAULT")) {
      rule.is_default = true;
      pos += 7;
    } else if (rules.substr(pos).starts_with("RULE:")) {
      pos += 5;
      auto pattern = until_slash(rules, pos);
      auto replacement = pattern ? until_slash(rules, pos) : std::nullopt;
      if (!replacement) return invalid(rules.substr(start));
      if (pos < rules.size() && (rules[pos] == 'L' || rules[pos] == 'U')) rule.case_change = rules[pos++];
      try {
        rule.pattern = std::regex(*pattern);
      } catch (const std::regex_error&) {
        return invalid(rules.substr(start, pos - start));
      }
      rule.replacement = *replacement;
    } else {
      return invalid(rules.substr(start, rules.find(',', start) - start));
    }
    skip(rules, pos, space);
    if (pos < rules.size() && rules[pos] != ',') return invalid(rules.substr(start));
    rule.text = std::string(rules.substr(start, pos - start));
    out.rules_.push_back(std::move(rule));
    if (pos < rules.size()) ++pos;  // the ','
  }
  if (out.rules_.empty()) return invalid(rules);
  return out;
}

std::optional<std::string> PrincipalMapper::map(const std::string& distinguished_name) const {
  for (const Rule& rule : rules_) {
    if (rule.is_default) return distinguished_name;
    if (!std::regex_match(distinguished_name, rule.pattern)) continue;
    std::string name = std::regex_replace(distinguished_name, rule.pattern, rule.replacement);
    if (rule.case_change == 'L')
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (rule.case_change == 'U')
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    return name;
  }
  return std::nullopt;
}

}  // namespace kb::security
