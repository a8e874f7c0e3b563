// Inside registry/: the REST layer's JSON bodies (Confluent's entities: Schema, SchemaString,
// Config, Mode, CompatibilityCheckResponse, ErrorMessage) and the request bodies it reads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "registry/registry.h"

namespace kb::registry::rest_json {

// Insertion-ordered, so bodies list fields in Confluent's order.
using json = nlohmann::ordered_json;

std::string dump(const json& j);

json error_body(const ApiError& e);
// Confluent's Schema entity: subject, version, id, schemaType (left out for AVRO, as clients
// default to it), references (left out when none), schema.
json subject_schema(const SubjectSchema& s);
json schema_by_id(const SchemaById& s);
json references(const std::vector<SchemaReference>& refs);
// GET /config answers compatibilityLevel; PUT answers the request's own field, compatibility.
json config(const Config& c, bool as_update);

// POST bodies with a schema (register, lookup, compatibility). 400 for text that is not JSON,
// 422 for JSON of the wrong shape, 42201 for an unknown schemaType.
Reply<SchemaRequest> schema_request(std::string_view body);
// PUT /config: {"compatibility": "FULL", "normalize": true}
Reply<ConfigUpdate> config_update(std::string_view body);
// PUT /mode: {"mode": "READONLY"}
Reply<std::string> mode_update(std::string_view body);

}  // namespace kb::registry::rest_json
