// The `_schemas` topic's record format: Confluent Schema Registry's key and value JSON, byte for
// byte as its Jackson mapper writes them (field order, no spaces, null and empty fields left
// out), so a Confluent registry (or Karapace) pointed at the topic reads what we write and we
// read what they write.
//
// Keys (keytype, subject, version, magic; compaction keeps the last value of each key):
//   {"keytype":"SCHEMA","subject":"s","version":1,"magic":1}     one version of a subject
//   {"keytype":"CONFIG","subject":"s","magic":0}                  compatibility of s
//   {"keytype":"CONFIG","magic":0}                                the global compatibility
//   {"keytype":"MODE","subject":"s","magic":0} / {"keytype":"MODE","magic":0}
//   {"keytype":"DELETE_SUBJECT","subject":"s","magic":0}          soft delete of a subject
//   {"keytype":"CLEAR_SUBJECT","subject":"s","magic":0}           drop s's soft-deleted versions
//   {"keytype":"NOOP","magic":0}                                  Confluent's reader-sync marker
// Values:
//   SCHEMA          {"subject":"s","version":1,"id":1,"schemaType":"JSON","references":[...],
//                    "schema":"...","deleted":false}   (deleted:true = soft-deleted version)
//   CONFIG          {"subject":"s","compatibilityLevel":"FULL"}  (no subject for the global one)
//   MODE            {"subject":"s","mode":"READONLY"}
//   DELETE_SUBJECT  {"subject":"s","version":3}   versions 1..3 of s are soft-deleted
//   CLEAR_SUBJECT   {"subject":"s"}
// A null value (tombstone) on a SCHEMA key is a permanent delete of that version; on CONFIG or
// MODE it removes the setting. Readers accept the older forms too: "subject":null in keys, no
// schemaType (AVRO), no subject in CONFIG/MODE values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "registry/schema/schema.h"

namespace kb::registry {

// Confluent's modes. READONLY_OVERRIDE is READONLY that a subject-level setting cannot lift.
enum class Mode { kReadWrite, kReadOnly, kReadOnlyOverride, kImport };
std::string_view to_string(Mode m);
std::optional<Mode> mode_from(std::string_view name);  // exact upper-case names

enum class KeyType { kSchema, kConfig, kMode, kNoop, kDeleteSubject, kClearSubject };

struct RecordKey {
  KeyType type = KeyType::kNoop;
  std::optional<std::string> subject;  // nullopt: the global CONFIG / MODE (and NOOP)
  int32_t version = 0;                 // SCHEMA only
  int32_t magic = 0;                   // 1 for SCHEMA keys, 0 for the others (Confluent's choice)

  static RecordKey schema(std::string subject, int32_t version);
  static RecordKey config(std::optional<std::string> subject);
  static RecordKey mode(std::optional<std::string> subject);
  static RecordKey delete_subject(std::string subject);
  static RecordKey clear_subject(std::optional<std::string> subject);
  static RecordKey noop();
  bool operator==(const RecordKey&) const = default;
};

struct SchemaValue {
  std::string subject;
  int32_t version = 0;
  int32_t id = 0;
  SchemaType type = SchemaType::kAvro;
  std::vector<SchemaReference> references;
  std::string schema;
  bool deleted = false;
  bool operator==(const SchemaValue&) const = default;
};

// Only the settings we act on; a Confluent ConfigValue may carry more (alias, validateFields,
// metadata, rule sets), which we read past.
struct ConfigValue {
  std::optional<std::string> subject;
  std::optional<CompatibilityLevel> compatibility;
  std::optional<bool> normalize;
  bool operator==(const ConfigValue&) const = default;
};

struct ModeValue {
  std::optional<std::string> subject;
  Mode mode = Mode::kReadWrite;
  bool operator==(const ModeValue&) const = default;
};

struct DeleteSubjectValue {
  std::string subject;
  int32_t version = 0;  // the highest version the soft delete covers
  bool operator==(const DeleteSubjectValue&) const = default;
};

struct ClearSubjectValue {
  std::optional<std::string> subject;  // nullopt: every subject
  bool operator==(const ClearSubjectValue&) const = default;
};

std::string encode_key(const RecordKey& key);
std::string encode_value(const SchemaValue& v);
std::string encode_value(const ConfigValue& v);
std::string encode_value(const ModeValue& v);
std::string encode_value(const DeleteSubjectValue& v);
std::string encode_value(const ClearSubjectValue& v);

// A key whose keytype we do not know (Confluent's ASSOC, CONTEXT, or a future one): skipped.
struct UnknownKey {
  std::string keytype;
};
// A key or value that is not the JSON it should be.
struct Malformed {
  std::string reason;
};

using DecodedKey = std::variant<RecordKey, UnknownKey, Malformed>;
DecodedKey decode_key(std::string_view bytes);

using DecodedValue = std::variant<SchemaValue, ConfigValue, ModeValue, DeleteSubjectValue, ClearSubjectValue,
                                  std::monostate, Malformed>;
// Decodes the value of a record whose key is `key`; std::monostate for NOOP.
DecodedValue decode_value(const RecordKey& key, std::string_view bytes);

}  // namespace kb::registry
