#include "coordinator/group/group_records.h"

#include "coordinator/group/versioned_record.h"

namespace kb::coordinator {

namespace {

constexpr int16_t kOffsetKeyVersion = 1;   // 0 and 1 are the same fields
constexpr int16_t kGroupKeyVersion = 2;
constexpr int16_t kOffsetValueVersion = 3;  // with the leader epoch, not flexible
constexpr int16_t kGroupValueVersion = 3;   // with static members (group_instance_id)

}  // namespace

std::string encode_key(const rec::OffsetCommitKey& key) { return encode_versioned(key, kOffsetKeyVersion); }
std::string encode_key(const rec::GroupMetadataKey& key) { return encode_versioned(key, kGroupKeyVersion); }
std::string encode_value(const rec::OffsetCommitValue& value) { return encode_versioned(value, kOffsetValueVersion); }
std::string encode_value(const rec::GroupMetadataValue& value) { return encode_versioned(value, kGroupValueVersion); }

std::optional<GroupRecordKey> decode_key(std::string_view bytes) {
  auto r = reader_of(bytes);
  int16_t version = r.read_int16();
  if (!r.ok()) return std::nullopt;
  if (version == 0 || version == 1) {
    rec::OffsetCommitKey k;
    if (k.decode(r, version) && r.remaining() == 0) return GroupRecordKey(std::move(k));
  } else if (version == 2) {
    rec::GroupMetadataKey k;
    if (k.decode(r, version) && r.remaining() == 0) return GroupRecordKey(std::move(k));
  }
  return std::nullopt;
}

std::optional<rec::OffsetCommitValue> decode_offset_value(std::string_view bytes) {
  return decode_versioned<rec::OffsetCommitValue>(bytes);
}

std::optional<rec::GroupMetadataValue> decode_group_value(std::string_view bytes) {
  return decode_versioned<rec::GroupMetadataValue>(bytes);
}

}  // namespace kb::coordinator
