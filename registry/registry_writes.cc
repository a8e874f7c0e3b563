// The registry's write operations: each plans records against the view (Confluent's rules
// from KafkaSchemaRegistry: register, deleteSchemaVersion, deleteSubject, updateConfig,
// setMode), which registry.cc appends conditionally and answers once applied.
#include <algorithm>
#include <cctype>

#include "registry/registry.h"
#include "registry/registry_plan.h"

namespace kb::registry {

namespace {

LogRecord schema_record(const std::string& subject, int32_t version, const StoredVersion& v, bool deleted) {
  return LogRecord{
      encode_key(RecordKey::schema(subject, version)),
      encode_value(SchemaValue{subject, version, v.id, v.type, v.references, v.schema, deleted})};
}

LogRecord tombstone(const RecordKey& key) { return LogRecord{encode_key(key), std::nullopt}; }

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Confluent's subject-level config and mode go with the subject's last version.
void forget_subject_settings(const Store& view, const std::string& subject, std::vector<LogRecord>& records) {
  if (view.mode(subject)) records.push_back(tombstone(RecordKey::mode(subject)));
  if (view.config(subject)) records.push_back(tombstone(RecordKey::config(subject)));
}

bool read_only(Mode m) { return m == Mode::kReadOnly || m == Mode::kReadOnlyOverride; }

}  // namespace

void Registry::register_schema(std::string subject, SchemaRequest request, bool normalize,
                               Callback<SubjectSchema> done) {
  write_op<SubjectSchema>(done,
                          [this, subject = std::move(subject), request = std::move(request), normalize,
                           done](const Store&) { return plan_register(subject, request, normalize, done); });
}

WritePlan Registry::plan_register(const std::string& subject, const SchemaRequest& request, bool normalize,
                                  Callback<SubjectSchema> done) {
  const Mode mode = mode_in_scope(subject);
  if (read_only(mode)) return plan::refuse(errors::read_only(subject));
  const bool importing = mode == Mode::kImport;
  const bool explicit_id = request.id && *request.id >= 0;
  if (explicit_id && !importing) {
    return plan::refuse(errors::not_permitted("Subject " + subject + " in context  is not in import mode"));
  }
  if (!explicit_id && mode != Mode::kReadWrite) {
    return plan::refuse(
        errors::not_permitted("Subject " + subject + " in context  is not in read-write mode"));
  }
  if (request.schema.empty()) return plan::refuse(errors::invalid_schema("Empty schema"));
  auto parsed_reply = parse_request(request);
  if (!parsed_reply.ok()) return plan::refuse(parsed_reply.error());
  const ParsedSchema& parsed = **parsed_reply;
  const Config config = config_in_scope(subject);
  const bool norm = normalize || config.normalize.value_or(false);
  const std::string text = stored_text(parsed, norm);

  // Versions of the subject, soft-deleted ones too: the next version is past all of them.
  int32_t next_version = 1;
  std::vector<std::pair<int32_t, const StoredVersion*>> live;
  std::vector<std::pair<int32_t, const StoredVersion*>> soft_deleted;
  if (const auto* vs = store_.versions(subject)) {
    for (const auto& [n, v] : *vs) {
      next_version = std::max(next_version, n + 1);
      (v.deleted ? soft_deleted : live).emplace_back(n, &v);
    }
  }

  // The same schema (text, type, references) anywhere has an id already: reuse it.
  std::optional<int32_t> id;
  if (auto existing = store_.id_of(parsed.type(), text, parsed.references());
      existing && (!explicit_id || *existing == *request.id)) {
    id = existing;
  }
  if (explicit_id) id = *request.id;
  if (!request.version) {
    // Registered before under this subject (and not deleted): the same id and version again.
    if (auto found = find_in_subject(subject, parsed, text, norm, /*include_deleted=*/false);
        found && (!explicit_id || store_.version(subject, *found)->id == *request.id)) {
      return plan::answer<SubjectSchema>(done,
                                         subject_schema(subject, *found, *store_.version(subject, *found)));
    }
  }

  if (!importing) {
    std::vector<VersionedSchema> previous;
    for (const auto& [n, v] : live) {
      if (auto p = parsed_stored(v->id)) previous.push_back(VersionedSchema{n, p});
    }
    auto problems = kb::registry::check_compatibility(
        config.compatibility.value_or(options_.default_compatibility), parsed, previous);
    if (!problems.empty()) {
      ++compatibility_refusals_;
      return plan::refuse(errors::incompatible_schema(subject, problems));
    }
  }

  int32_t version = next_version;
  if (request.version && *request.version > 0) {
    if (*request.version != next_version && !importing) {
      return plan::refuse(errors::invalid_schema("Version is not one more than previous version"));
    }
    version = *request.version;
  }
  if (explicit_id) {
    // An imported id must not rebind an id that means another schema.
    const StoredSchema* taken = store_.schema_by_id(*request.id);
    if (taken && (taken->type != parsed.type() || taken->schema != text)) {
      return plan::refuse(errors::not_permitted(
          "Overwrite new schema with id " + std::to_string(*request.id) + " in context  is not permitted."));
    }
  }
  if (!id) id = store_.max_id() + 1;

  std::vector<LogRecord> records;
  // A soft-deleted earlier version holding the same id goes for good (Confluent does this so
  // the id maps to the new version), unless something still references it.
  for (const auto& [n, v] : soft_deleted) {
    if (v->id == *id && n < version && store_.referenced_by(subject, n, true).empty()) {
      records.push_back(tombstone(RecordKey::schema(subject, n)));
    }
  }
  StoredVersion stored{*id, parsed.type(), text, parsed.references(), false};
  records.push_back(schema_record(subject, version, stored, false));
  return plan::then<SubjectSchema>(
      std::move(records), done,
      [this, subject, version, id = *id](const Store& view) -> Reply<SubjectSchema> {
        const StoredVersion* v = view.version(subject, version);
        if (!v || v->id != id) {
          return errors::store_error("Register schema operation failed while writing to the Kafka store");
        }
        return subject_schema(subject, version, *v);
      });
}

void Registry::delete_version(std::string subject, int32_t version, bool permanent, Callback<int32_t> done) {
  write_op<int32_t>(
      done, [this, subject = std::move(subject), version, permanent, done](const Store& view) -> WritePlan {
        // Confluent's order of checks: soft-deleted already, unknown subject or version, read-only
        // mode, references, then "soft delete first".
        const StoredVersion* v = nullptr;
        int32_t number = version;
        if (version == -1) {
          if (auto latest = view.latest(subject)) std::tie(number, v) = *latest;
        } else {
          v = view.version(subject, version);
          if (v && v->deleted && !permanent)
            return plan::refuse(errors::version_soft_deleted(subject, version));
        }
        if (!v) {
          if (!view.has_subject(subject, true)) return plan::refuse(errors::subject_not_found(subject));
          return plan::refuse(errors::version_not_found(version));
        }
        if (read_only(mode_in_scope(subject))) return plan::refuse(errors::read_only(subject));
        if (!view.referenced_by(subject, number, permanent).empty()) {
          return plan::refuse(errors::reference_exists(subject, number));
        }
        if (permanent && !v->deleted) return plan::refuse(errors::version_not_soft_deleted(subject, number));
        std::vector<LogRecord> records;
        if (!permanent) {
          records.push_back(schema_record(subject, number, *v, true));
        } else {
          records.push_back(tombstone(RecordKey::schema(subject, number)));
          if (view.versions(subject)->size() == 1) forget_subject_settings(view, subject, records);
        }
        return plan::then<int32_t>(std::move(records), done,
                                   [number](const Store&) -> Reply<int32_t> { return number; });
      });
}

void Registry::delete_subject(std::string subject, bool permanent, Callback<std::vector<int32_t>> done) {
  write_op<std::vector<int32_t>>(
      done, [this, subject = std::move(subject), permanent, done](const Store& view) -> WritePlan {
        if (!view.has_subject(subject, true)) return plan::refuse(errors::subject_not_found(subject));
        if (!permanent && !view.has_subject(subject, false))
          return plan::refuse(errors::subject_soft_deleted(subject));
        if (read_only(mode_in_scope(subject))) return plan::refuse(errors::read_only(subject));
        std::vector<int32_t> deleted;
        for (const auto& [n, v] : *view.versions(subject)) {
          if (v.deleted && !permanent) continue;
          // References from the subject's own versions do not hold it back.
          for (int32_t id : view.referenced_by(subject, n, permanent)) {
            const StoredSchema* referrer = view.schema_by_id(id);
            if (referrer && std::any_of(referrer->uses.begin(), referrer->uses.end(),
                                        [&](const auto& use) { return use.first != subject; })) {
              return plan::refuse(errors::reference_exists(subject, n));
            }
          }
          if (permanent && !v.deleted) return plan::refuse(errors::subject_not_soft_deleted(subject));
          deleted.push_back(n);
        }
        std::vector<LogRecord> records;
        if (!permanent) {
          records.push_back(LogRecord{encode_key(RecordKey::delete_subject(subject)),
                                      encode_value(DeleteSubjectValue{subject, deleted.back()})});
        } else {
          // Newest first, as Confluent does, for references between the subject's own versions.
          for (auto it = deleted.rbegin(); it != deleted.rend(); ++it) {
            records.push_back(tombstone(RecordKey::schema(subject, *it)));
          }
          forget_subject_settings(view, subject, records);
        }
        return plan::then<std::vector<int32_t>>(
            std::move(records), done,
            [deleted](const Store&) -> Reply<std::vector<int32_t>> { return deleted; });
      });
}

void Registry::put_config(std::optional<std::string> subject, ConfigUpdate update, Callback<Config> done) {
  std::optional<CompatibilityLevel> level;
  if (update.compatibility) {
    level = compatibility_level_from(upper(*update.compatibility));
    if (!level) {
      done(errors::invalid_compatibility_level());
      return;
    }
  }
  write_op<Config>(done,
                   [this, subject = std::move(subject), level, normalize = update.normalize,
                    done](const Store& view) -> WritePlan {
                     if (read_only(mode_in_scope(subject)))
                       return plan::refuse(errors::read_only(subject.value_or("")));
                     ConfigValue value = view.config(subject) ? *view.config(subject) : ConfigValue{};
                     value.subject = subject;
                     if (level) value.compatibility = level;
                     if (normalize) value.normalize = normalize;
                     Config answer{value.compatibility, value.normalize};
                     return plan::then<Config>(
                         {LogRecord{encode_key(RecordKey::config(subject)), encode_value(value)}}, done,
                         [answer](const Store&) -> Reply<Config> { return answer; });
                   });
}

void Registry::delete_config(std::optional<std::string> subject, Callback<Config> done) {
  write_op<Config>(done, [this, subject = std::move(subject), done](const Store& view) -> WritePlan {
    const ConfigValue* current = view.config(subject);
    if (subject && !current) return plan::refuse(errors::subject_not_found(*subject));
    if (read_only(mode_in_scope(subject))) return plan::refuse(errors::read_only(subject.value_or("")));
    // The global answer is the setting removed, or the default when there was none.
    Config answer =
        current ? Config{current->compatibility, current->normalize} : config_in_scope(std::nullopt);
    return plan::then<Config>({tombstone(RecordKey::config(subject))}, done,
                              [answer](const Store&) -> Reply<Config> { return answer; });
  });
}

void Registry::put_mode(std::optional<std::string> subject, std::string mode_name, bool force,
                        Callback<Mode> done) {
  auto mode = mode_from(upper(mode_name));
  if (!mode) {
    done(errors::invalid_mode());
    return;
  }
  write_op<Mode>(
      done, [this, subject = std::move(subject), mode = *mode, force, done](const Store& view) -> WritePlan {
        std::vector<LogRecord> records;
        if (mode == Mode::kImport && mode_in_scope(subject) != Mode::kImport && !force) {
          // IMPORT takes ids and versions from the requests: only an empty scope may switch to it.
          std::vector<std::string> scope;
          if (subject) {
            if (view.has_subject(*subject, true)) scope.push_back(*subject);
          } else {
            scope = view.subjects(true);
          }
          for (const auto& s : scope) {
            if (view.has_subject(s, false)) {
              return plan::refuse(errors::not_permitted("Cannot import since found existing subjects"));
            }
          }
          // What is left is soft-deleted: it goes for good, then the cached leftovers are cleared.
          for (const auto& s : scope) {
            for (const auto& [n, v] : *view.versions(s)) {
              if (!view.referenced_by(s, n, true).empty())
                return plan::refuse(errors::reference_exists(s, n));
              records.push_back(tombstone(RecordKey::schema(s, n)));
            }
          }
          records.push_back(LogRecord{encode_key(RecordKey::clear_subject(subject)),
                                      encode_value(ClearSubjectValue{subject})});
        }
        records.push_back(
            LogRecord{encode_key(RecordKey::mode(subject)), encode_value(ModeValue{subject, mode})});
        return plan::then<Mode>(std::move(records), done,
                                [mode](const Store&) -> Reply<Mode> { return mode; });
      });
}

void Registry::delete_mode(std::optional<std::string> subject, Callback<Mode> done) {
  write_op<Mode>(done, [subject = std::move(subject), done](const Store& view) -> WritePlan {
    auto current = view.mode(subject);
    if (!current) return plan::refuse(errors::subject_not_found(subject.value_or("")));
    return plan::then<Mode>({tombstone(RecordKey::mode(subject))}, done,
                            [m = *current](const Store&) -> Reply<Mode> { return m; });
  });
}

}  // namespace kb::registry
