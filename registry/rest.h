// Confluent Schema Registry's REST API as a pure request router: (method, target, a few
// headers, body) in, (status, content type, body) out, asynchronously. No sockets: the
// broker's HTTP server (runtime/) hands each request over and writes the answer back; it also
// enforces the body size limit (413) before calling.
//
// Paths, query parameters, JSON bodies and error bodies ({"error_code":40401,"message":...})
// follow Confluent's API reference. Requests with a body must be JSON in one of the media
// types Confluent consumes (application/vnd.schemaregistry.v1+json,
// application/vnd.schemaregistry+json, application/json, application/octet-stream; none at
// all is taken as JSON); answers carry application/vnd.schemaregistry.v1+json unless the
// Accept header prefers another of those. Malformed JSON is 400, JSON of the wrong shape 422,
// both with Confluent's error body. Every request first passes the Authenticator.
//
// Thread-safe; `done` runs exactly once, on the caller's thread or the registry's.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "registry/auth.h"
#include "registry/metrics.h"
#include "registry/registry.h"

namespace kb::registry {

struct HttpRequest {
  std::string method;         // "GET", "POST", "PUT", "DELETE"
  std::string target;         // path and query as sent: "/subjects/a%2Fb/versions?deleted=true"
  std::string authorization;  // the Authorization header, empty when absent
  std::string content_type;   // the Content-Type header, empty when absent
  std::string accept;         // the Accept header, empty when absent
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (WWW-Authenticate)
};

class Rest {
 public:
  // `metrics` may be null.
  Rest(Registry& registry, Authenticator& authenticator, RestMetrics* metrics = nullptr)
      : registry_(registry), authenticator_(authenticator), metrics_(metrics) {}

  void handle(HttpRequest request, std::function<void(HttpResponse)> done);

 private:
  Registry& registry_;
  Authenticator& authenticator_;
  RestMetrics* metrics_;
};

}  // namespace kb::registry
