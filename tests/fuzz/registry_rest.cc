// The Schema Registry's REST layer (registry::Rest): what the HTTP server hands it after
// Beast has parsed the request. Input: requests separated by NUL bytes, each
// "<METHOD> <target>\n<content type>\n<body>" (missing lines are empty), sent in order to a
// fresh registry on an in-memory schema log, so a registration can meet later lookups and
// every finding replays from its input alone.
// Properties: every request is answered exactly once, with an HTTP status, and never crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "registry/auth.h"
#include "registry/memory_schema_log.h"
#include "registry/registry.h"
#include "registry/rest.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kb::registry;

namespace {

struct Node {
  MemorySchemaLog log;
  Registry registry{log, RegistryOptions{}};
  AllowEveryone auth;
  Rest rest{registry, auth};
  Node() { registry.start(); }
};

std::string_view take_line(std::string_view& in) {
  size_t end = in.find('\n');
  std::string_view line = in.substr(0, end);
  in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
  return line;
}

void send(Rest& rest, std::string_view in) {
  std::string_view first = take_line(in);
  size_t space = first.find(' ');
  HttpRequest request;
  request.method = std::string(first.substr(0, space));
  request.target = space == std::string_view::npos ? "" : std::string(first.substr(space + 1));
  request.content_type = std::string(take_line(in));
  request.accept = "application/vnd.schemaregistry.v1+json";
  request.body = std::string(in);
  int answers = 0;
  int status = 0;
  rest.handle(std::move(request), [&](HttpResponse r) {
    ++answers;
    status = r.status;
  });
  // The in-memory log delivers at once, so the answer has come before handle returns.
  kb::fuzz::require(answers == 1 && status >= 200 && status < 600);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Node node;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    size_t end = in.find('\0');
    send(node.rest, in.substr(0, end));
    in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
  }
  return 0;
}
