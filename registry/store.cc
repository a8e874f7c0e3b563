#include "registry/store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kb::registry {

namespace {

std::string identity_key(SchemaType type, std::string_view schema, const std::vector<SchemaReference>& refs) {
  std::string k(to_string(type));
  k += '\0';
  k += schema;
  for (const auto& r : refs) {
    k += '\0';
    k += r.name;
    k += '\0';
    k += r.subject;
    k += '\0';
    k += std::to_string(r.version);
  }
  return k;
}

}  // namespace

void Store::skip(int64_t offset, std::string_view what, std::string_view detail) {
  ++skipped_;
  // One line per kind of skipped record: a topic full of them must not flood the log.
  if (logged_kinds_.insert(std::string(what)).second) {
    spdlog::warn(
        "schema registry: skipping _schemas record at offset {}: {} ({}); further ones are counted only",
        offset, what, detail);
  }
}

void Store::skip_to(int64_t next) { next_offset_ = std::max(next_offset_, next); }

void Store::apply(const LoggedRecord& r) {
  if (r.offset < next_offset_) return;
  next_offset_ = r.offset + 1;
  auto decoded = decode_key(r.record.key);
  if (auto* u = std::get_if<UnknownKey>(&decoded)) {
    skip(r.offset, "unknown keytype " + u->keytype, "ignored");
    return;
  }
  if (auto* m = std::get_if<Malformed>(&decoded)) {
    skip(r.offset, "malformed key", m->reason);
    return;
  }
  const RecordKey& key = std::get<RecordKey>(decoded);
  if (!r.record.value) {
    switch (key.type) {
      case KeyType::kSchema:
        remove_version(*key.subject, key.version);
        break;
      case KeyType::kConfig:
        if (key.subject)
          configs_.erase(*key.subject);
        else
          global_config_.reset();
        break;
      case KeyType::kMode:
        if (key.subject)
          modes_.erase(*key.subject);
        else
          global_mode_.reset();
        break;
      default:
        break;  // Confluent ignores other tombstones too
    }
    return;
  }
  auto value = decode_value(key, *r.record.value);
  if (auto* m = std::get_if<Malformed>(&value)) {
    skip(r.offset, "malformed value", m->reason);
    return;
  }
  switch (key.type) {
    case KeyType::kSchema:
      put_version(r.offset, key, std::get<SchemaValue>(std::move(value)));
      break;
    case KeyType::kConfig: {
      auto& v = std::get<ConfigValue>(value);
      if (key.subject)
        configs_[*key.subject] = v;
      else
        global_config_ = v;
      break;
    }
    case KeyType::kMode: {
      Mode m = std::get<ModeValue>(value).mode;
      if (key.subject)
        modes_[*key.subject] = m;
      else
        global_mode_ = m;
      break;
    }
    case KeyType::kDeleteSubject: {
      const auto& v = std::get<DeleteSubjectValue>(value);
      auto it = subjects_.find(v.subject);
      if (it == subjects_.end()) break;
      for (auto& [version, stored] : it->second) {
        if (version <= v.version) stored.deleted = true;
      }
      break;
    }
    case KeyType::kClearSubject: {
      const auto& v = std::get<ClearSubjectValue>(value);
      std::vector<std::pair<std::string, int32_t>> doomed;
      for (const auto& [subject, versions] : subjects_) {
        if (v.subject && subject != *v.subject) continue;
        for (const auto& [version, stored] : versions) {
          if (stored.deleted) doomed.emplace_back(subject, version);
        }
      }
      for (const auto& [subject, version] : doomed) remove_version(subject, version);
      break;
    }
    case KeyType::kNoop:
      break;
  }
}

void Store::put_version(int64_t offset, const RecordKey& key, SchemaValue v) {
  const std::string& subject = *key.subject;
  auto existing = ids_.find(v.id);
  if (existing != ids_.end() && (existing->second.type != v.type || existing->second.schema != v.schema)) {
    skip(offset, "schema id already taken", "id " + std::to_string(v.id) + " under " + subject);
    return;
  }
  if (const auto* old = version(subject, key.version); old && old->id != v.id)
    remove_version(subject, key.version);
  auto& stored = subjects_[subject][key.version];
  stored = StoredVersion{v.id, v.type, v.schema, v.references, v.deleted};
  auto& entry = ids_[v.id];
  if (entry.uses.empty()) {
    entry.type = v.type;
    entry.schema = v.schema;
    entry.references = v.references;
  }
  entry.uses.emplace(subject, key.version);
  identity_[identity_key(v.type, v.schema, v.references)] = v.id;
  max_id_ = std::max(max_id_, v.id);
}

void Store::remove_version(const std::string& subject, int32_t version) {
  auto sit = subjects_.find(subject);
  if (sit == subjects_.end()) return;
  auto vit = sit->second.find(version);
  if (vit == sit->second.end()) return;
  const int32_t id = vit->second.id;
  sit->second.erase(vit);
  if (sit->second.empty()) subjects_.erase(sit);
  auto iit = ids_.find(id);
  if (iit == ids_.end()) return;
  iit->second.uses.erase({subject, version});
  if (iit->second.uses.empty()) {
    auto key = identity_key(iit->second.type, iit->second.schema, iit->second.references);
    if (auto it = identity_.find(key); it != identity_.end() && it->second == id) identity_.erase(it);
    ids_.erase(iit);
  }
}

const Store::Versions* Store::versions(std::string_view subject) const {
  auto it = subjects_.find(subject);
  return it == subjects_.end() ? nullptr : &it->second;
}

const StoredVersion* Store::version(std::string_view subject, int32_t version) const {
  const auto* vs = versions(subject);
  if (!vs) return nullptr;
  auto it = vs->find(version);
  return it == vs->end() ? nullptr : &it->second;
}

std::optional<std::pair<int32_t, const StoredVersion*>> Store::latest(std::string_view subject) const {
  const auto* vs = versions(subject);
  if (!vs) return std::nullopt;
  for (auto it = vs->rbegin(); it != vs->rend(); ++it) {
    if (!it->second.deleted) return std::make_pair(it->first, &it->second);
  }
  return std::nullopt;
}

bool Store::has_subject(std::string_view subject, bool include_deleted) const {
  const auto* vs = versions(subject);
  if (!vs) return false;
  return include_deleted ||
         std::any_of(vs->begin(), vs->end(), [](const auto& v) { return !v.second.deleted; });
}

std::vector<std::string> Store::subjects(bool include_deleted) const {
  std::vector<std::string> out;
  for (const auto& [subject, versions] : subjects_) {
    if (has_subject(subject, include_deleted)) out.push_back(subject);
  }
  return out;
}

const StoredSchema* Store::schema_by_id(int32_t id) const {
  auto it = ids_.find(id);
  return it == ids_.end() ? nullptr : &it->second;
}

std::optional<int32_t> Store::id_of(SchemaType type, std::string_view schema,
                                    const std::vector<SchemaReference>& references) const {
  auto it = identity_.find(identity_key(type, schema, references));
  if (it == identity_.end()) return std::nullopt;
  return it->second;
}

std::vector<int32_t> Store::referenced_by(std::string_view subject, int32_t version,
                                          bool include_deleted) const {
  std::set<int32_t> ids;
  for (const auto& [s, versions] : subjects_) {
    for (const auto& [v, stored] : versions) {
      if (stored.deleted && !include_deleted) continue;
      for (const auto& ref : stored.references) {
        if (ref.subject == subject && ref.version == version) ids.insert(stored.id);
      }
    }
  }
  return {ids.begin(), ids.end()};
}

const ConfigValue* Store::config(const std::optional<std::string>& subject) const {
  if (!subject) return global_config_ ? &*global_config_ : nullptr;
  auto it = configs_.find(*subject);
  return it == configs_.end() ? nullptr : &it->second;
}

std::optional<Mode> Store::mode(const std::optional<std::string>& subject) const {
  if (!subject) return global_mode_;
  auto it = modes_.find(*subject);
  if (it == modes_.end()) return std::nullopt;
  return it->second;
}

std::map<SchemaType, int64_t> Store::live_versions_by_type() const {
  std::map<SchemaType, int64_t> out;
  for (const auto& [s, versions] : subjects_) {
    for (const auto& [v, stored] : versions) {
      if (!stored.deleted) ++out[stored.type];
    }
  }
  return out;
}

}  // namespace kb::registry
