// Test helpers for the registry service: a registry node (Registry + Rest) on a SchemaLog and a
// synchronous way to call its REST API.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "registry/auth.h"
#include "registry/memory_schema_log.h"
#include "registry/metrics.h"
#include "registry/registry.h"
#include "registry/rest.h"

namespace kb::registry::test {

using json = nlohmann::json;

inline const char* kV1 = "application/vnd.schemaregistry.v1+json";

// One broker's registry: its view of the log and its REST router.
struct Node {
  explicit Node(SchemaLog& log, RegistryOptions options = {})
      : registry(log, std::move(options)), rest(registry, auth, &metrics) {
    registry.start();
  }
  Registry registry;
  AllowEveryone auth;
  RestCounters metrics;
  Rest rest;
};

// Sends a request; the answer lands in the returned slot (at once with an immediate log).
inline std::shared_ptr<std::optional<HttpResponse>> send(Rest& rest, std::string method, std::string target,
                                                         std::string body = "",
                                                         std::string content_type = kV1) {
  auto slot = std::make_shared<std::optional<HttpResponse>>();
  rest.handle(
      HttpRequest{std::move(method), std::move(target), "", std::move(content_type), kV1, std::move(body)},
      [slot](HttpResponse r) {
        REQUIRE_FALSE(slot->has_value());  // answered once
        *slot = std::move(r);
      });
  return slot;
}

// Sends and expects an answer before returning.
inline HttpResponse call(Rest& rest, std::string method, std::string target, std::string body = "",
                         std::string content_type = kV1) {
  auto slot = send(rest, std::move(method), std::move(target), std::move(body), std::move(content_type));
  REQUIRE(slot->has_value());
  return **slot;
}

inline json body_of(const HttpResponse& r) {
  INFO(r.body);
  return json::parse(r.body);
}

// {"schema": <text>, "schemaType": <type>} as a request body.
inline std::string schema_body(const std::string& text, const std::string& type = "AVRO") {
  json j;
  j["schema"] = text;
  if (type != "AVRO") j["schemaType"] = type;
  return j.dump();
}

// An Avro record with string fields, each field name given; `defaults` gives them defaults.
inline std::string avro_record(const std::string& name, std::initializer_list<std::string> fields,
                               bool defaults = false) {
  json j;
  j["type"] = "record";
  j["name"] = name;
  j["fields"] = json::array();
  for (const auto& f : fields) {
    json field;
    field["name"] = f;
    field["type"] = "string";
    if (defaults) field["default"] = "";
    j["fields"].push_back(field);
  }
  return j.dump();
}

// The error_code of an error answer (0 when the body has none).
inline int error_code(const HttpResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("error_code")) return 0;
  return j["error_code"].get<int>();
}

}  // namespace kb::registry::test
