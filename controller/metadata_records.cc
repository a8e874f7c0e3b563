#include "controller/metadata_records.h"

#include <string>
#include <type_traits>
#include <utility>

#include "protocol/wire.h"

namespace kb::controller {

namespace {

// The record name without the namespace, from the generated type.
template <class R>
constexpr std::string_view name_of();
#define KB_RECORD_NAME(T) \
  template <>             \
  constexpr std::string_view name_of<metadata::T>() { return #T; }
KB_RECORD_NAME(RegisterBrokerRecord)
KB_RECORD_NAME(UnregisterBrokerRecord)
KB_RECORD_NAME(TopicRecord)
KB_RECORD_NAME(PartitionRecord)
KB_RECORD_NAME(ConfigRecord)
KB_RECORD_NAME(PartitionChangeRecord)
KB_RECORD_NAME(FenceBrokerRecord)
KB_RECORD_NAME(UnfenceBrokerRecord)
KB_RECORD_NAME(RemoveTopicRecord)
KB_RECORD_NAME(FeatureLevelRecord)
KB_RECORD_NAME(ProducerIdsRecord)
KB_RECORD_NAME(BrokerRegistrationChangeRecord)
KB_RECORD_NAME(NoOpRecord)
KB_RECORD_NAME(ClientQuotaRecord)
KB_RECORD_NAME(UserScramCredentialRecord)
KB_RECORD_NAME(RemoveUserScramCredentialRecord)
KB_RECORD_NAME(AccessControlEntryRecord)
KB_RECORD_NAME(RemoveAccessControlEntryRecord)
#undef KB_RECORD_NAME

// Versions written: the lowest that carries every field kbroker sets. RegisterBrokerRecord v3
// and BrokerRegistrationChangeRecord v2 carry the broker's log dirs, PartitionRecord v1 and
// PartitionChangeRecord v1 the replicas' directories (KIP-858); everything else is v0.
template <class R>
constexpr int16_t write_version() {
  if constexpr (std::is_same_v<R, metadata::RegisterBrokerRecord>) return 3;
  if constexpr (std::is_same_v<R, metadata::BrokerRegistrationChangeRecord>) return 2;
  if constexpr (std::is_same_v<R, metadata::PartitionRecord>) return 1;
  if constexpr (std::is_same_v<R, metadata::PartitionChangeRecord>) return 1;
  return 0;
}

// Decodes the body of the alternative whose apiKey is `type`, trying each in turn.
template <size_t I = 0>
Result<MetadataRecord> decode_body(int16_t type, int16_t version, wire::Reader& r) {
  if constexpr (I == std::variant_size_v<MetadataRecord>) {
    return Error{ErrorCode::CORRUPT_MESSAGE, "unknown metadata record type " + std::to_string(type)};
  } else {
    using R = std::variant_alternative_t<I, MetadataRecord>;
    if (type != R::kApiKey) return decode_body<I + 1>(type, version, r);
    if (version < R::kMinVersion || version > R::kMaxVersion)
      return Error{ErrorCode::CORRUPT_MESSAGE, std::string(name_of<R>()) + " version " + std::to_string(version) +
                                                   " is not one kbroker reads (" + std::to_string(R::kMinVersion) +
                                                   ".." + std::to_string(R::kMaxVersion) + ")"};
    R rec;
    if (!rec.decode(r, version) || r.remaining() != 0)
      return Error{ErrorCode::CORRUPT_MESSAGE, std::string(name_of<R>()) + " v" + std::to_string(version) +
                                                   " does not parse"};
    return MetadataRecord(std::move(rec));
  }
}

}  // namespace

int16_t record_type(const MetadataRecord& record) {
  return std::visit([](const auto& r) { return std::decay_t<decltype(r)>::kApiKey; }, record);
}

std::string_view record_name(const MetadataRecord& record) {
  return std::visit([](const auto& r) { return name_of<std::decay_t<decltype(r)>>(); }, record);
}

int16_t record_write_version(const MetadataRecord& record) {
  return std::visit([](const auto& r) { return write_version<std::decay_t<decltype(r)>>(); }, record);
}

std::vector<uint8_t> encode_record(const MetadataRecord& record) {
  wire::Writer w;
  int16_t version = record_write_version(record);
  w.write_uvarint(kMetadataFrameVersion);
  w.write_uvarint(static_cast<uint64_t>(record_type(record)));
  w.write_uvarint(static_cast<uint64_t>(version));
  std::visit([&](const auto& r) { r.encode(w, version); }, record);
  return std::move(w.buffer());
}

Result<MetadataRecord> decode_record(std::span<const uint8_t> value) {
  wire::Reader r(value);
  uint32_t frame = r.read_uvarint();
  uint32_t type = r.read_uvarint();
  uint32_t version = r.read_uvarint();
  if (!r.ok()) return Error{ErrorCode::CORRUPT_MESSAGE, "truncated metadata record header"};
  if (frame != kMetadataFrameVersion)
    return Error{ErrorCode::CORRUPT_MESSAGE, "unknown metadata record frame version " + std::to_string(frame)};
  if (type > 0x7fff || version > 0x7fff)
    return Error{ErrorCode::CORRUPT_MESSAGE, "metadata record type " + std::to_string(type) + " version " +
                                                 std::to_string(version) + " out of range"};
  return decode_body(static_cast<int16_t>(type), static_cast<int16_t>(version), r);
}

}  // namespace kb::controller
