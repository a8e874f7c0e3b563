#include "server/schema_validation.h"

#include "protocol/record_batch.h"
#include "registry/registry.h"

namespace kb::server {

namespace {

// Records whose errors are listed one by one; the rest are counted in the message.
constexpr size_t kMaxRecordErrors = 100;

SubjectNameStrategy strategy_of(const std::map<std::string, std::string>& configs, const char* name) {
  auto it = configs.find(name);
  if (it == configs.end()) return SubjectNameStrategy::kTopicName;
  if (it->second.ends_with(".TopicRecordNameStrategy")) return SubjectNameStrategy::kTopicRecordName;
  if (it->second.ends_with(".RecordNameStrategy")) return SubjectNameStrategy::kRecordName;
  return SubjectNameStrategy::kTopicName;
}

bool flag(const std::map<std::string, std::string>& configs, const char* name) {
  auto it = configs.find(name);
  return it != configs.end() && it->second == "true";
}

// Confluent's Protobuf framing after the schema id: a zig-zag varint count, then that many
// zig-zag varint indexes; a count of 0 stands for {0}. Empty when the bytes do not hold one.
std::vector<int32_t> message_indexes(std::string_view payload) {
  size_t pos = 0;
  auto next = [&](int32_t& out) {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (pos >= payload.size()) return false;
      const auto b = static_cast<uint8_t>(payload[pos++]);
      v |= static_cast<uint32_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        out = static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
        return true;
      }
    }
    return false;
  };
  int32_t count = 0;
  if (!next(count) || count < 0 || static_cast<size_t>(count) > payload.size()) return {};
  if (count == 0) return {0};
  std::vector<int32_t> out(static_cast<size_t>(count));
  for (auto& i : out)
    if (!next(i)) return {};
  return out;
}

}  // namespace

void SchemaValidator::update(const controller::MetadataImage& image) {
  auto next = std::make_shared<std::map<std::string, Rules, std::less<>>>();
  for (const controller::TopicInfo* t : image.topics()) {
    const auto& configs = t->configs;
    Rules r;
    r.key = flag(configs, "confluent.key.schema.validation");
    r.value = flag(configs, "confluent.value.schema.validation");
    if (!r.key && !r.value) continue;
    r.key_strategy = strategy_of(configs, "confluent.key.subject.name.strategy");
    r.value_strategy = strategy_of(configs, "confluent.value.subject.name.strategy");
    next->emplace(t->name, r);
  }
  std::lock_guard lk(mu_);
  any_.store(!next->empty(), std::memory_order_release);
  rules_ = std::move(next);
}

std::string SchemaValidator::check_one(const std::string& topic, bool is_key, SubjectNameStrategy strategy,
                                       std::string_view bytes, bool& retriable) const {
  const std::string what = is_key ? "key" : "value";
  if (bytes.size() < 5)
    return "the " + what + " is " + std::to_string(bytes.size()) +
           " bytes, too short for the schema registry framing (magic byte 0, 4-byte schema id, payload)";
  if (bytes[0] != 0)
    return "the " + what +
           " does not start with magic byte 0 (the schema registry framing: magic byte 0, "
           "4-byte schema id, payload)";
  const int32_t id = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint8_t>(bytes[1])) << 24 |
                                          static_cast<uint32_t>(static_cast<uint8_t>(bytes[2])) << 16 |
                                          static_cast<uint32_t>(static_cast<uint8_t>(bytes[3])) << 8 |
                                          static_cast<uint32_t>(static_cast<uint8_t>(bytes[4])));
  const std::string unknown = "schema id " + std::to_string(id) + " of the " + what +
                              " is not known to this broker's schema registry (yet)";
  std::string subject;
  if (strategy == SubjectNameStrategy::kTopicName) {
    subject = topic + (is_key ? "-key" : "-value");
  } else {
    auto name = registry_.record_name(id, message_indexes(bytes.substr(5)));
    if (!name) {
      if (registry_.check_id("", id) == registry::Registry::IdCheck::kUnknownId) {
        retriable = true;
        return unknown;
      }
      return "schema id " + std::to_string(id) + " of the " + what + " names no record (RecordNameStrategy)";
    }
    subject = strategy == SubjectNameStrategy::kRecordName ? *name : topic + "-" + *name;
  }
  switch (registry_.check_id(subject, id)) {
    case registry::Registry::IdCheck::kRegistered:
      return "";
    case registry::Registry::IdCheck::kUnknownId:
      retriable = true;
      return unknown;
    case registry::Registry::IdCheck::kNotUnderSubject:
      break;
  }
  return "schema id " + std::to_string(id) + " of the " + what + " is not registered under subject '" +
         subject + "'";
}

SchemaValidationResult SchemaValidator::check(const std::string& topic,
                                              std::span<const uint8_t> batches) const {
  SchemaValidationResult out;
  if (!any_.load(std::memory_order_acquire)) return out;
  Rules rules;
  {
    std::lock_guard lk(mu_);
    auto it = rules_->find(topic);
    if (it == rules_->end()) return out;
    rules = it->second;
  }
  bool permanent = false;
  size_t refused = 0;
  size_t pos = 0;
  while (batches.size() - pos >= batch::kHeaderSize) {
    auto h = read_batch_header(batches.subspan(pos));
    if (!h.ok() || h->total_size() > static_cast<int64_t>(batches.size() - pos)) break;
    auto batch = batches.subspan(pos, static_cast<size_t>(h->total_size()));
    pos += batch.size();
    if (h->is_control()) continue;
    auto walked = for_each_record_decompressed(batch, [&](const RecordView& r) {
      bool retriable = false;
      std::string why;
      if (rules.key && r.key) why = check_one(topic, true, rules.key_strategy, *r.key, retriable);
      if (why.empty() && rules.value && r.value)
        why = check_one(topic, false, rules.value_strategy, *r.value, retriable);
      if (why.empty()) return;
      permanent |= !retriable;
      const auto index = static_cast<int32_t>(r.offset - h->base_offset);
      if (++refused == 1)
        out.message = "Schema validation failed for record " + std::to_string(index) + ": " + why;
      if (out.record_errors.size() < kMaxRecordErrors) out.record_errors.push_back({index, std::move(why)});
    });
    if (!walked.ok()) {
      out.error = walked.code();
      out.message = walked.error().message;
      return out;
    }
  }
  if (refused == 0) return out;
  if (refused > 1) out.message += " (and " + std::to_string(refused - 1) + " more records)";
  out.error = permanent ? ErrorCode::INVALID_RECORD : ErrorCode::REQUEST_TIMED_OUT;
  return out;
}

}  // namespace kb::server
