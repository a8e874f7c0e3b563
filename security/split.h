// Splitting SASL messages at a separator (',' in SCRAM, NUL in PLAIN); internal to security/.
#pragma once

#include <string_view>
#include <vector>

namespace kb::security {

// Every part between separators, empty ones included ("a,,b" -> "a", "", "b"); the views
// point into `text`.
inline std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace kb::security
