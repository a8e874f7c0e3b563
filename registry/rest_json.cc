#include "registry/rest_json.h"

#include <cstdint>

namespace kb::registry::rest_json {

namespace {

ApiError malformed(std::string message) { return ApiError{400, 400, std::move(message)}; }
ApiError wrong_shape(std::string message) { return ApiError{422, 422, std::move(message)}; }

Reply<json> parse_object(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return malformed("Unexpected character in the request body: it is not valid JSON");
  if (!j.is_object()) return wrong_shape("The request body must be a JSON object");
  return j;
}

// A field that may be absent or null, else of the given kind.
bool bad_type(const json& j, const char* name, json::value_t kind) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return false;
  if (kind == json::value_t::number_integer) {
    // Java's int: a larger number does not deserialize.
    return !it->is_number_integer() || it->get<int64_t>() < INT32_MIN || it->get<int64_t>() > INT32_MAX ||
           (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT32_MAX));
  }
  return it->type() != kind;
}

ApiError type_error(const char* name, const char* expected) {
  return wrong_shape(std::string("Cannot deserialize field '") + name + "': expected " + expected);
}

}  // namespace

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_body(const ApiError& e) {
  json j;
  j["error_code"] = e.code;
  j["message"] = e.message;
  return j;
}

json references(const std::vector<SchemaReference>& refs) {
  json a = json::array();
  for (const auto& r : refs) {
    json o;
    o["name"] = r.name;
    o["subject"] = r.subject;
    o["version"] = r.version;
    a.push_back(std::move(o));
  }
  return a;
}

json subject_schema(const SubjectSchema& s) {
  json j;
  j["subject"] = s.subject;
  j["version"] = s.version;
  j["id"] = s.id;
  if (s.type != SchemaType::kAvro) j["schemaType"] = to_string(s.type);
  if (!s.references.empty()) j["references"] = references(s.references);
  j["schema"] = s.schema;
  return j;
}

json schema_by_id(const SchemaById& s) {
  json j;
  if (s.subject) j["subject"] = *s.subject;
  if (s.version) j["version"] = *s.version;
  if (s.type != SchemaType::kAvro) j["schemaType"] = to_string(s.type);
  j["schema"] = s.schema;
  if (!s.references.empty()) j["references"] = references(s.references);
  return j;
}

json config(const Config& c, bool as_update) {
  json j = json::object();
  if (c.normalize) j["normalize"] = *c.normalize;
  if (c.compatibility) j[as_update ? "compatibility" : "compatibilityLevel"] = to_string(*c.compatibility);
  return j;
}

Reply<SchemaRequest> schema_request(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  if (bad_type(j, "schema", json::value_t::string)) return type_error("schema", "a string");
  if (bad_type(j, "schemaType", json::value_t::string)) return type_error("schemaType", "a string");
  if (bad_type(j, "references", json::value_t::array)) return type_error("references", "an array");
  if (bad_type(j, "id", json::value_t::number_integer)) return type_error("id", "an integer");
  if (bad_type(j, "version", json::value_t::number_integer)) return type_error("version", "an integer");
  SchemaRequest r;
  if (auto it = j.find("schema"); it != j.end() && it->is_string()) r.schema = it->get<std::string>();
  if (auto it = j.find("schemaType"); it != j.end() && it->is_string()) {
    auto type = schema_type_from(it->get<std::string>());
    if (!type) return errors::invalid_schema("Invalid schema type " + it->get<std::string>());
    r.type = *type;
  }
  if (auto it = j.find("references"); it != j.end() && it->is_array()) {
    for (const auto& ref : *it) {
      if (!ref.is_object() || !ref.contains("name") || !ref["name"].is_string() || !ref.contains("subject") ||
          !ref["subject"].is_string() || !ref.contains("version") || !ref["version"].is_number_integer() ||
          bad_type(ref, "version", json::value_t::number_integer)) {
        return type_error("references", "objects with name, subject and version");
      }
      r.references.push_back(SchemaReference{
          ref["name"].get<std::string>(), ref["subject"].get<std::string>(), ref["version"].get<int32_t>()});
    }
  }
  if (auto it = j.find("id"); it != j.end() && it->is_number_integer()) r.id = it->get<int32_t>();
  if (auto it = j.find("version"); it != j.end() && it->is_number_integer()) r.version = it->get<int32_t>();
  return r;
}

Reply<ConfigUpdate> config_update(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  if (bad_type(j, "compatibility", json::value_t::string)) return type_error("compatibility", "a string");
  if (bad_type(j, "normalize", json::value_t::boolean)) return type_error("normalize", "a boolean");
  ConfigUpdate u;
  if (auto it = j.find("compatibility"); it != j.end() && it->is_string())
    u.compatibility = it->get<std::string>();
  if (auto it = j.find("normalize"); it != j.end() && it->is_boolean()) u.normalize = it->get<bool>();
  return u;
}

Reply<std::string> mode_update(std::string_view body) {
  auto parsed = parse_object(body);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  auto it = j.find("mode");
  if (it == j.end() || !it->is_string()) return errors::invalid_mode();
  return it->get<std::string>();
}

}  // namespace kb::registry::rest_json
