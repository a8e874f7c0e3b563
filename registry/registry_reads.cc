// The registry's read operations, answered from the view (see registry.h).
#include <algorithm>

#include "registry/registry.h"
#include "registry/registry_plan.h"

namespace kb::registry {

namespace {

bool wanted(bool deleted, Deleted filter) {
  switch (filter) {
    case Deleted::kExclude:
      return !deleted;
    case Deleted::kInclude:
      return true;
    case Deleted::kOnly:
      return deleted;
  }
  return true;
}

std::string formatted_or_plain(const std::shared_ptr<const ParsedSchema>& parsed, const std::string& text,
                               const std::string& format) {
  if (format.empty() || !parsed) return text;
  // A format the type does not know leaves the text as stored.
  return parsed->formatted(format).value_or(text);
}

}  // namespace

Reply<std::shared_ptr<const ParsedSchema>> Registry::parse_request(const SchemaRequest& request) const {
  auto result = parse_schema(request.type, request.schema, request.references, resolver());
  if (auto* e = std::get_if<SchemaError>(&result)) {
    return errors::invalid_schema("Invalid schema of type " + std::string(to_string(request.type)) +
                                  ", details: " + e->message);
  }
  return std::get<std::shared_ptr<const ParsedSchema>>(std::move(result));
}

std::string Registry::stored_text(const ParsedSchema& parsed, bool normalize) const {
  return normalize ? parsed.normalized() : parsed.canonical();
}

std::optional<int32_t> Registry::find_in_subject(const std::string& subject, const ParsedSchema& parsed,
                                                 const std::string& text, bool normalize,
                                                 bool include_deleted) const {
  const auto* versions = store_.versions(subject);
  if (!versions) return std::nullopt;
  // The stored text first (what this registry or Confluent wrote for the same request)...
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    const StoredVersion& v = it->second;
    if ((include_deleted || !v.deleted) && v.type == parsed.type() && v.references == parsed.references() &&
        v.schema == text) {
      return it->first;
    }
  }
  // ...then equal meaning: a stored text written in another (e.g. not normalized) form.
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    const StoredVersion& v = it->second;
    if ((!include_deleted && v.deleted) || v.type != parsed.type() || v.references != parsed.references())
      continue;
    auto stored = parsed_stored(v.id);
    if (stored && (stored->canonical() == parsed.canonical() ||
                   (normalize && stored->normalized() == parsed.normalized()))) {
      return it->first;
    }
  }
  return std::nullopt;
}

SubjectSchema Registry::subject_schema(const std::string& subject, int32_t version,
                                       const StoredVersion& v) const {
  return SubjectSchema{subject, version, v.id, v.type, v.references, v.schema, v.deleted};
}

void Registry::lookup(std::string subject, SchemaRequest request, bool normalize, bool include_deleted,
                      Callback<SubjectSchema> done) {
  read_op<SubjectSchema>(
      std::move(done),
      [this, subject = std::move(subject), request = std::move(request), normalize,
       include_deleted]() -> Reply<SubjectSchema> {
        std::optional<int32_t> found;
        if (!request.schema.empty()) {
          auto parsed = parse_request(request);
          if (!parsed.ok()) return parsed.error();
          const bool norm = normalize || config_in_scope(subject).normalize.value_or(false);
          found = find_in_subject(subject, **parsed, stored_text(**parsed, norm), norm, include_deleted);
        }
        if (!found) {
          if (!store_.has_subject(subject, include_deleted)) return errors::subject_not_found(subject);
          return errors::schema_not_found();
        }
        return subject_schema(subject, *found, *store_.version(subject, *found));
      });
}

void Registry::schema_by_id(int32_t id, std::optional<std::string> subject, std::string format,
                            Callback<SchemaById> done) {
  read_op<SchemaById>(
      std::move(done),
      [this, id, subject = std::move(subject), format = std::move(format)]() -> Reply<SchemaById> {
        const StoredSchema* s = store_.schema_by_id(id);
        if (!s) return errors::schema_id_not_found(id);
        SchemaById out{s->type,
                       formatted_or_plain(format.empty() ? nullptr : parsed_stored(id), s->schema, format),
                       s->references, std::nullopt, std::nullopt};
        if (subject) {
          // The version under the subject asked for; another use when the subject has none.
          const std::pair<std::string, int32_t>* use = &*s->uses.begin();
          for (const auto& u : s->uses) {
            if (u.first == *subject) use = &u;
          }
          out.subject = use->first;
          out.version = use->second;
        }
        return out;
      });
}

void Registry::versions_of_id(int32_t id, bool include_deleted, Callback<std::vector<SubjectVersion>> done) {
  read_op<std::vector<SubjectVersion>>(std::move(done),
                                       [this, id, include_deleted]() -> Reply<std::vector<SubjectVersion>> {
                                         const StoredSchema* s = store_.schema_by_id(id);
                                         if (!s) return errors::schema_not_found();
                                         std::vector<SubjectVersion> out;
                                         for (const auto& [subject, version] : s->uses) {
                                           const StoredVersion* v = store_.version(subject, version);
                                           if (v && (include_deleted || !v->deleted))
                                             out.push_back(SubjectVersion{subject, version});
                                         }
                                         return out;
                                       });
}

void Registry::schemas(std::string prefix, bool include_deleted, bool latest_only,
                       Callback<std::vector<SubjectSchema>> done) {
  read_op<std::vector<SubjectSchema>>(std::move(done),
                                      [this, prefix = std::move(prefix), include_deleted,
                                       latest_only]() -> Reply<std::vector<SubjectSchema>> {
                                        std::vector<SubjectSchema> out;
                                        for (const auto& subject : store_.subjects(true)) {
                                          if (subject.compare(0, prefix.size(), prefix) != 0) continue;
                                          std::vector<SubjectSchema> mine;
                                          for (const auto& [version, v] : *store_.versions(subject)) {
                                            if (include_deleted || !v.deleted)
                                              mine.push_back(subject_schema(subject, version, v));
                                          }
                                          if (latest_only && mine.size() > 1)
                                            mine.erase(mine.begin(), mine.end() - 1);
                                          out.insert(out.end(), mine.begin(), mine.end());
                                        }
                                        return out;
                                      });
}

void Registry::subjects(std::string prefix, Deleted deleted, Callback<std::vector<std::string>> done) {
  read_op<std::vector<std::string>>(
      std::move(done), [this, prefix = std::move(prefix), deleted]() -> Reply<std::vector<std::string>> {
        std::vector<std::string> out;
        for (const auto& subject : store_.subjects(true)) {
          if (subject.compare(0, prefix.size(), prefix) != 0) continue;
          // Listed when one of its versions passes the filter (Confluent's extractUniqueSubjects).
          const auto* vs = store_.versions(subject);
          if (std::any_of(vs->begin(), vs->end(),
                          [deleted](const auto& v) { return wanted(v.second.deleted, deleted); })) {
            out.push_back(subject);
          }
        }
        return out;
      });
}

void Registry::versions(std::string subject, Deleted deleted, Callback<std::vector<int32_t>> done) {
  read_op<std::vector<int32_t>>(
      std::move(done), [this, subject = std::move(subject), deleted]() -> Reply<std::vector<int32_t>> {
        if (!store_.has_subject(subject, deleted != Deleted::kExclude))
          return errors::subject_not_found(subject);
        std::vector<int32_t> out;
        for (const auto& [version, v] : *store_.versions(subject)) {
          if (wanted(v.deleted, deleted)) out.push_back(version);
        }
        return out;
      });
}

void Registry::version(std::string subject, int32_t version, bool include_deleted, std::string format,
                       Callback<SubjectSchema> done) {
  read_op<SubjectSchema>(std::move(done),
                         [this, subject = std::move(subject), version, include_deleted,
                          format = std::move(format)]() -> Reply<SubjectSchema> {
                           const StoredVersion* v = nullptr;
                           int32_t number = version;
                           if (version == -1) {
                             if (auto latest = store_.latest(subject)) std::tie(number, v) = *latest;
                           } else {
                             v = store_.version(subject, version);
                             if (v && v->deleted && !include_deleted) v = nullptr;
                           }
                           if (!v) {
                             if (!store_.has_subject(subject, include_deleted))
                               return errors::subject_not_found(subject);
                             return errors::version_not_found(version);
                           }
                           SubjectSchema out = subject_schema(subject, number, *v);
                           if (!format.empty())
                             out.schema = formatted_or_plain(parsed_stored(v->id), v->schema, format);
                           return out;
                         });
}

void Registry::referenced_by(std::string subject, int32_t version, bool include_deleted,
                             Callback<std::vector<int32_t>> done) {
  read_op<std::vector<int32_t>>(
      std::move(done),
      [this, subject = std::move(subject), version, include_deleted]() -> Reply<std::vector<int32_t>> {
        int32_t number = version;
        if (version == -1) {
          auto latest = store_.latest(subject);
          number = latest ? latest->first : 0;
        }
        if (!store_.version(subject, number)) {
          if (!store_.has_subject(subject, true)) return errors::subject_not_found(subject);
          return errors::version_not_found(version);
        }
        return store_.referenced_by(subject, number, include_deleted);
      });
}

void Registry::get_config(std::optional<std::string> subject, bool default_to_global, Callback<Config> done) {
  read_op<Config>(std::move(done),
                  [this, subject = std::move(subject), default_to_global]() -> Reply<Config> {
                    if (!subject || default_to_global) return config_in_scope(subject);
                    const ConfigValue* v = store_.config(subject);
                    if (!v) return errors::subject_compatibility_not_configured(*subject);
                    return Config{v->compatibility, v->normalize};
                  });
}

void Registry::get_mode(std::optional<std::string> subject, bool default_to_global, Callback<Mode> done) {
  read_op<Mode>(std::move(done), [this, subject = std::move(subject), default_to_global]() -> Reply<Mode> {
    if (!subject || default_to_global) return mode_in_scope(subject);
    auto m = store_.mode(subject);
    if (!m) return errors::subject_mode_not_configured(*subject);
    return *m;
  });
}

void Registry::check_compatibility(std::string subject, std::optional<int32_t> version, SchemaRequest request,
                                   bool normalize, bool verbose, Callback<CompatibilityResult> done) {
  read_op<CompatibilityResult>(
      std::move(done),
      [this, subject = std::move(subject), version, request = std::move(request), normalize,
       verbose]() -> Reply<CompatibilityResult> {
        std::vector<VersionedSchema> previous;
        std::vector<std::pair<int32_t, const StoredVersion*>> against;
        if (version) {
          if (*version == -1) {
            if (auto latest = store_.latest(subject)) against.push_back(*latest);
          } else {
            const StoredVersion* v = store_.version(subject, *version);
            if (!v || v->deleted) return errors::version_not_found(*version);
            against.emplace_back(*version, v);
          }
        } else if (const auto* vs = store_.versions(subject)) {
          for (const auto& [n, v] : *vs) {
            if (!v.deleted) against.emplace_back(n, &v);
          }
        }
        if (request.schema.empty()) return errors::invalid_schema("Empty schema");
        auto parsed = parse_request(request);
        if (!parsed.ok()) {
          if (!verbose) return parsed.error();
          return CompatibilityResult{false, {parsed.error().message}};
        }
        for (const auto& [n, v] : against) {
          if (auto p = parsed_stored(v->id)) previous.push_back(VersionedSchema{n, p});
        }
        (void)normalize;  // compatibility compares meaning; normalization does not change it
        const CompatibilityLevel level =
            config_in_scope(subject).compatibility.value_or(options_.default_compatibility);
        auto messages = kb::registry::check_compatibility(level, **parsed, previous);
        CompatibilityResult out{messages.empty(), {}};
        if (verbose) out.messages = std::move(messages);
        return out;
      });
}

}  // namespace kb::registry
