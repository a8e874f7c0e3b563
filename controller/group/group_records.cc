#include "controller/group/group_records.h"

#include "protocol/wire.h"

namespace kb::coordinator {

namespace {

constexpr int16_t kOffsetKeyVersion = 1;   // 0 and 1 are the same fields
constexpr int16_t kGroupKeyVersion = 2;
constexpr int16_t kOffsetValueVersion = 3;  // with the leader epoch, not flexible
constexpr int16_t kGroupValueVersion = 3;   // with static members (group_instance_id)

template <class Message>
std::string encode_versioned(const Message& m, int16_t version) {
  wire::Writer w;
  w.write_int16(version);
  m.encode(w, version);
  const auto& b = w.buffer();
  return std::string(b.begin(), b.end());
}

wire::Reader reader_of(std::string_view bytes) {
  return wire::Reader(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

// Decodes a value whose first two bytes are its version. Kafka reads newer value versions
// it knows up to, so trailing bytes of an unknown tagged section are not an error in
// flexible versions (the generated decoder keeps unknown tags); a version out of range is.
template <class Message>
std::optional<Message> decode_versioned(std::string_view bytes) {
  auto r = reader_of(bytes);
  int16_t version = r.read_int16();
  if (!r.ok() || version < Message::kMinVersion || version > Message::kMaxVersion) return std::nullopt;
  Message m;
  if (!m.decode(r, version) || r.remaining() != 0) return std::nullopt;
  return m;
}

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
