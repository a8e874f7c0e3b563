// The compatibility levels over the per-type read-problems functions, as Confluent's
// CompatibilityChecker and SchemaValidatorBuilder apply them.
#include <string>

#include "registry/schema/schema_types.h"

namespace kb::registry::detail {

namespace {

// Confluent cuts the old schema in a message at 10 KiB.
constexpr size_t kMaxSchemaInMessage = 10 * 1024;

void add_all(std::vector<std::string>& out, const std::vector<std::string>& problems, std::string_view reader,
             std::string_view writer) {
  for (const std::string& p : problems) out.push_back(fill_roles(p, reader, writer));
}

}  // namespace

std::string escape_percent(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

std::string fill_roles(std::string_view message, std::string_view reader, std::string_view writer) {
  std::string out;
  int filled = 0;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '%' && i + 1 < message.size()) {
      char next = message[i + 1];
      if (next == '%') {
        out += '%';
        ++i;
        continue;
      }
      if (next == 's' && filled < 2) {
        out += filled++ == 0 ? reader : writer;
        ++i;
        continue;
      }
    }
    out += message[i];
  }
  return out;
}

std::vector<std::string> check_levels(CompatibilityLevel level, const ParsedSchema& proposed,
                                      const std::vector<VersionedSchema>& previous,
                                      ReadProblems read_problems) {
  using L = CompatibilityLevel;
  if (level == L::kNone) return {};
  bool transitive =
      level == L::kBackwardTransitive || level == L::kForwardTransitive || level == L::kFullTransitive;
  bool backward = level != L::kForward && level != L::kForwardTransitive;
  bool forward = level != L::kBackward && level != L::kBackwardTransitive;

  std::vector<std::string> out;
  // Newest first; a transitive level stops at the first version it breaks.
  for (auto it = previous.rbegin(); it != previous.rend() && out.empty(); ++it) {
    if (it->schema == nullptr) continue;
    const ParsedSchema& old = *it->schema;
    if (old.type() != proposed.type()) {
      out.push_back("Incompatible because of different schema type");
    } else {
      if (forward) add_all(out, read_problems(old, proposed), "old", "new");
      if (backward) add_all(out, read_problems(proposed, old), "new", "old");
      if (!out.empty()) {
        out.push_back("{oldSchemaVersion: " + std::to_string(it->version) + "}");
        const std::string& text = old.canonical();
        if (text.size() <= kMaxSchemaInMessage) {
          out.push_back("{oldSchema: '" + text + "'}");
        } else {
          out.push_back("{oldSchema: <truncated> '" + text.substr(0, kMaxSchemaInMessage) + "...'}");
        }
      }
    }
    if (!transitive) break;
  }
  if (!out.empty()) out.push_back("{compatibility: '" + std::string(to_string(level)) + "'}");
  return out;
}

}  // namespace kb::registry::detail
