#include "security/jaas.h"

#include <cctype>

namespace kb::security {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool done() {
    skip_space();
    return pos_ >= text_.size();
  }
  bool take(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  // A bare word: anything up to space, '=', ';' or a quote.
  std::string word() {
    skip_space();
    size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) && text_[pos_] != '=' &&
           text_[pos_] != ';' && text_[pos_] != '"')
      ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  // A value: "quoted" (a backslash escapes the next character) or a bare word.
  std::optional<std::string> value() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      std::string w = word();
      if (w.empty()) return std::nullopt;
      return w;
    }
    std::string out;
    for (++pos_; pos_ < text_.size(); ++pos_) {
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\' && pos_ + 1 < text_.size()) c = text_[++pos_];
      out += c;
    }
    return std::nullopt;  // no closing quote
  }
  size_t pos() const { return pos_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<JaasModule>> parse_jaas(std::string_view text) {
  std::vector<JaasModule> out;
  Reader r(text);
  auto error = [&](const std::string& why) {
    return Error{ErrorCode::INVALID_CONFIG,
                 "sasl.jaas.config: " + why + " at character " + std::to_string(r.pos() + 1)};
  };
  while (!r.done()) {
    JaasModule m;
    m.login_module = r.word();
    if (m.login_module.empty()) return error("a login module class name expected");
    m.flag = r.word();
    if (m.flag != "required" && m.flag != "requisite" && m.flag != "sufficient" && m.flag != "optional")
      return error("a control flag (required, requisite, sufficient, optional) expected after " + m.login_module);
    while (!r.take(';')) {
      if (r.done()) return error("';' expected at the end of " + m.login_module + "'s options");
      std::string key = r.word();
      if (key.empty() || !r.take('=')) return error("an option key=value expected");
      auto value = r.value();
      if (!value) return error("a value expected for option " + key);
      m.options[key] = *value;
    }
    out.push_back(std::move(m));
  }
  if (out.empty()) return error("no login module");
  return out;
}

std::map<std::string, std::string> plain_users(const JaasModule& module) {
  std::map<std::string, std::string> users;
  for (const auto& [key, value] : module.options)
    if (key.starts_with("user_") && key.size() > 5) users[key.substr(5)] = value;
  return users;
}

}  // namespace kb::security
