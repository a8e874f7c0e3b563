#include "registry/records.h"

#include <nlohmann/json.hpp>

namespace kb::registry {

namespace {

// ordered_json keeps insertion order: the order Confluent's Jackson mapper writes.
using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string_view key_type_name(KeyType t) {
  switch (t) {
    case KeyType::kSchema:
      return "SCHEMA";
    case KeyType::kConfig:
      return "CONFIG";
    case KeyType::kMode:
      return "MODE";
    case KeyType::kNoop:
      return "NOOP";
    case KeyType::kDeleteSubject:
      return "DELETE_SUBJECT";
    case KeyType::kClearSubject:
      return "CLEAR_SUBJECT";
  }
  return "NOOP";
}

std::optional<KeyType> key_type_from(std::string_view s) {
  for (KeyType t : {KeyType::kSchema, KeyType::kConfig, KeyType::kMode, KeyType::kNoop,
                    KeyType::kDeleteSubject, KeyType::kClearSubject}) {
    if (key_type_name(t) == s) return t;
  }
  return std::nullopt;
}

// Jackson's NON_EMPTY: a null or empty subject is left out.
void put_subject(ojson& j, const std::optional<std::string>& subject) {
  if (subject && !subject->empty()) j["subject"] = *subject;
}

std::optional<std::string> get_subject(const json& j) {
  auto it = j.find("subject");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int32_t> get_int(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  auto v = it->get<int64_t>();
  if (v < INT32_MIN || v > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(v);
}

std::optional<json> parse_object(std::string_view bytes) {
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::kReadWrite:
      return "READWRITE";
    case Mode::kReadOnly:
      return "READONLY";
    case Mode::kReadOnlyOverride:
      return "READONLY_OVERRIDE";
    case Mode::kImport:
      return "IMPORT";
  }
  return "READWRITE";
}

std::optional<Mode> mode_from(std::string_view name) {
  for (Mode m : {Mode::kReadWrite, Mode::kReadOnly, Mode::kReadOnlyOverride, Mode::kImport}) {
    if (to_string(m) == name) return m;
  }
  return std::nullopt;
}

RecordKey RecordKey::schema(std::string subject, int32_t version) {
  return RecordKey{KeyType::kSchema, std::move(subject), version, 1};
}
RecordKey RecordKey::config(std::optional<std::string> subject) {
  return RecordKey{KeyType::kConfig, std::move(subject), 0, 0};
}
RecordKey RecordKey::mode(std::optional<std::string> subject) {
  return RecordKey{KeyType::kMode, std::move(subject), 0, 0};
}
RecordKey RecordKey::delete_subject(std::string subject) {
  return RecordKey{KeyType::kDeleteSubject, std::move(subject), 0, 0};
}
RecordKey RecordKey::clear_subject(std::optional<std::string> subject) {
  return RecordKey{KeyType::kClearSubject, std::move(subject), 0, 0};
}
RecordKey RecordKey::noop() { return RecordKey{KeyType::kNoop, std::nullopt, 0, 0}; }

std::string encode_key(const RecordKey& key) {
  ojson j;
  j["keytype"] = key_type_name(key.type);
  if (key.type != KeyType::kNoop) put_subject(j, key.subject);
  if (key.type == KeyType::kSchema) j["version"] = key.version;
  j["magic"] = key.magic;
  return dump(j);
}

std::string encode_value(const SchemaValue& v) {
  ojson j;
  j["subject"] = v.subject;
  j["version"] = v.version;
  j["id"] = v.id;
  j["schemaType"] = to_string(v.type);
  if (!v.references.empty()) {
    ojson refs = ojson::array();
    for (const auto& r : v.references) {
      ojson o;
      o["name"] = r.name;
      o["subject"] = r.subject;
      o["version"] = r.version;
      refs.push_back(std::move(o));
    }
    j["references"] = std::move(refs);
  }
  j["schema"] = v.schema;
  j["deleted"] = v.deleted;
  return dump(j);
}

std::string encode_value(const ConfigValue& v) {
  ojson j = ojson::object();
  put_subject(j, v.subject);
  if (v.normalize) j["normalize"] = *v.normalize;
  if (v.compatibility) j["compatibilityLevel"] = to_string(*v.compatibility);
  return dump(j);
}

std::string encode_value(const ModeValue& v) {
  ojson j = ojson::object();
  put_subject(j, v.subject);
  j["mode"] = to_string(v.mode);
  return dump(j);
}

std::string encode_value(const DeleteSubjectValue& v) {
  ojson j;
  j["subject"] = v.subject;
  j["version"] = v.version;
  return dump(j);
}

std::string encode_value(const ClearSubjectValue& v) {
  ojson j = ojson::object();
  put_subject(j, v.subject);
  return dump(j);
}

DecodedKey decode_key(std::string_view bytes) {
  auto j = parse_object(bytes);
  if (!j) return Malformed{"key is not a JSON object"};
  auto kt = j->find("keytype");
  if (kt == j->end() || !kt->is_string()) return Malformed{"key has no keytype"};
  auto type = key_type_from(kt->get<std::string>());
  if (!type) return UnknownKey{kt->get<std::string>()};
  RecordKey key;
  key.type = *type;
  key.subject = get_subject(*j);
  key.magic = get_int(*j, "magic").value_or(0);
  if (key.type == KeyType::kSchema) {
    auto version = get_int(*j, "version");
    if (!key.subject || !version) return Malformed{"SCHEMA key without subject or version"};
    // Confluent refuses other magic values on SCHEMA keys ("Can't deserialize schema for the magic byte").
    if (key.magic != 0 && key.magic != 1)
      return Malformed{"SCHEMA key with magic " + std::to_string(key.magic)};
    key.version = *version;
  }
  if ((key.type == KeyType::kDeleteSubject) && !key.subject)
    return Malformed{"DELETE_SUBJECT key without subject"};
  return key;
}

DecodedValue decode_value(const RecordKey& key, std::string_view bytes) {
  if (key.type == KeyType::kNoop) return std::monostate{};
  auto j = parse_object(bytes);
  if (!j) return Malformed{"value is not a JSON object"};
  switch (key.type) {
    case KeyType::kSchema: {
      SchemaValue v;
      v.subject = get_subject(*j).value_or(*key.subject);
      auto version = get_int(*j, "version");
      auto id = get_int(*j, "id");
      auto schema = j->find("schema");
      if (!version || !id || schema == j->end() || !schema->is_string()) {
        return Malformed{"SCHEMA value without version, id or schema"};
      }
      v.version = *version;
      v.id = *id;
      v.schema = schema->get<std::string>();
      if (auto t = j->find("schemaType"); t != j->end() && t->is_string()) {
        auto type = schema_type_from(t->get<std::string>());
        if (!type) return Malformed{"unknown schemaType " + t->get<std::string>()};
        v.type = *type;
      }
      if (auto refs = j->find("references"); refs != j->end() && refs->is_array()) {
        for (const auto& r : *refs) {
          if (!r.is_object() || !r.contains("name") || !r["name"].is_string() || !get_subject(r) ||
              !get_int(r, "version")) {
            return Malformed{"SCHEMA value with a malformed reference"};
          }
          v.references.push_back(
              SchemaReference{r["name"].get<std::string>(), *get_subject(r), *get_int(r, "version")});
        }
      }
      if (auto d = j->find("deleted"); d != j->end() && d->is_boolean()) v.deleted = d->get<bool>();
      return v;
    }
    case KeyType::kConfig: {
      ConfigValue v;
      // Legacy values have no subject: the key's is the one (Confluent's reader does the same).
      v.subject = get_subject(*j) ? get_subject(*j) : key.subject;
      if (auto c = j->find("compatibilityLevel"); c != j->end() && c->is_string()) {
        v.compatibility = compatibility_level_from(c->get<std::string>());
        if (!v.compatibility) return Malformed{"unknown compatibilityLevel " + c->get<std::string>()};
      }
      if (auto n = j->find("normalize"); n != j->end() && n->is_boolean()) v.normalize = n->get<bool>();
      return v;
    }
    case KeyType::kMode: {
      auto m = j->find("mode");
      if (m == j->end() || !m->is_string()) return Malformed{"MODE value without mode"};
      auto mode = mode_from(m->get<std::string>());
      if (!mode) return Malformed{"unknown mode " + m->get<std::string>()};
      return ModeValue{get_subject(*j) ? get_subject(*j) : key.subject, *mode};
    }
    case KeyType::kDeleteSubject: {
      auto version = get_int(*j, "version");
      if (!version) return Malformed{"DELETE_SUBJECT value without version"};
      return DeleteSubjectValue{get_subject(*j).value_or(*key.subject), *version};
    }
    case KeyType::kClearSubject:
      return ClearSubjectValue{get_subject(*j) ? get_subject(*j) : key.subject};
    case KeyType::kNoop:
      break;
  }
  return std::monostate{};
}

}  // namespace kb::registry
