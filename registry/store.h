// The registry's in-memory view of the `_schemas` topic: subjects and their versions, schemas
// by id, configs and modes, built by applying the topic's records in offset order exactly as
// Confluent's KafkaStoreMessageHandler / InMemoryCache do:
//   - a SCHEMA value puts one version (deleted:true marks it soft-deleted; it keeps its id, so
//     GET /schemas/ids/{id} still finds it); a SCHEMA tombstone removes the version for good;
//   - DELETE_SUBJECT marks versions 1..n of the subject soft-deleted (in the view only);
//   - CLEAR_SUBJECT drops the soft-deleted versions of a subject (of all when it has none);
//   - CONFIG / MODE values set, tombstones remove, a subject's or the global setting;
//   - NOOP, unknown keytypes and malformed records are skipped (one log line per kind);
//   - a SCHEMA value whose id is already taken by a different schema is skipped, as Confluent
//     does, so a duplicate-id record can never change what an id means.
// The largest id ever applied is kept: the next id a writer gives is max + 1.
//
// Not thread-safe: the owning Registry serializes access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "registry/records.h"
#include "registry/schema_log.h"

namespace kb::registry {

struct StoredVersion {
  int32_t id = 0;
  SchemaType type = SchemaType::kAvro;
  std::string schema;
  std::vector<SchemaReference> references;
  bool deleted = false;
};

struct StoredSchema {
  SchemaType type = SchemaType::kAvro;
  std::string schema;
  std::vector<SchemaReference> references;
  std::set<std::pair<std::string, int32_t>> uses;  // (subject, version), soft-deleted included
};

class Store {
 public:
  using Versions = std::map<int32_t, StoredVersion>;

  // Applies the record; a record below next_offset() (already applied) is skipped.
  void apply(const LoggedRecord& r);
  // The log says nothing below `next` is left to read (compacted away, or control records).
  void skip_to(int64_t next);
  int64_t next_offset() const { return next_offset_; }

  // All versions of a subject, soft-deleted ones included; nullptr for an unknown subject.
  const Versions* versions(std::string_view subject) const;
  const StoredVersion* version(std::string_view subject, int32_t version) const;
  // The newest version that is not soft-deleted.
  std::optional<std::pair<int32_t, const StoredVersion*>> latest(std::string_view subject) const;
  bool has_subject(std::string_view subject, bool include_deleted) const;
  // Sorted; `include_deleted` adds subjects whose versions are all soft-deleted.
  std::vector<std::string> subjects(bool include_deleted) const;

  const StoredSchema* schema_by_id(int32_t id) const;
  // The id a schema (type, stored text, references) already has, if any.
  std::optional<int32_t> id_of(SchemaType type, std::string_view schema,
                               const std::vector<SchemaReference>& references) const;
  int32_t max_id() const { return max_id_; }

  // Ids of the schemas that reference subject/version, sorted; soft-deleted referrers only
  // with `include_deleted`.
  std::vector<int32_t> referenced_by(std::string_view subject, int32_t version, bool include_deleted) const;

  // nullopt subject: the global setting.
  const ConfigValue* config(const std::optional<std::string>& subject) const;
  std::optional<Mode> mode(const std::optional<std::string>& subject) const;
  // Every setting at once, for the /config and /mode listings and tests.
  const std::map<std::string, ConfigValue, std::less<>>& subject_configs() const { return configs_; }

  // Live (not soft-deleted) versions by schema type.
  std::map<SchemaType, int64_t> live_versions_by_type() const;
  // Records skipped because they were malformed, of an unknown keytype or a duplicate id.
  int64_t skipped_records() const { return skipped_; }

 private:
  void put_version(int64_t offset, const RecordKey& key, SchemaValue v);
  void remove_version(const std::string& subject, int32_t version);
  void skip(int64_t offset, std::string_view what, std::string_view detail);

  int64_t next_offset_ = 0;
  std::map<std::string, Versions, std::less<>> subjects_;
  std::map<int32_t, StoredSchema> ids_;
  std::map<std::string, int32_t, std::less<>> identity_;  // identity key -> id
  int32_t max_id_ = 0;
  std::optional<ConfigValue> global_config_;
  std::map<std::string, ConfigValue, std::less<>> configs_;
  std::optional<Mode> global_mode_;
  std::map<std::string, Mode, std::less<>> modes_;
  int64_t skipped_ = 0;
  std::set<std::string, std::less<>> logged_kinds_;
};

}  // namespace kb::registry
