// The records the group coordinator keeps in __consumer_offsets, in Kafka's format so Kafka's
// tools can read the topic: the key starts with an int16 version (0/1: an offset commit,
// 2: group metadata), the value with its own int16 version (OffsetCommitValue 0-4,
// GroupMetadataValue 0-4). We write OffsetCommitKey v1 + OffsetCommitValue v3 and
// GroupMetadataKey v2 + GroupMetadataValue v3, as Kafka 3.x does, and read every version.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "coordinator/group/records/group_metadata_key.h"
#include "coordinator/group/records/group_metadata_value.h"
#include "coordinator/group/records/offset_commit_key.h"
#include "coordinator/group/records/offset_commit_value.h"

namespace kb::coordinator {

std::string encode_key(const rec::OffsetCommitKey& key);
std::string encode_key(const rec::GroupMetadataKey& key);
std::string encode_value(const rec::OffsetCommitValue& value);
std::string encode_value(const rec::GroupMetadataValue& value);

// nullopt for bytes that are not a key of a known version (Kafka skips those too: a newer
// broker's record types).
using GroupRecordKey = std::variant<rec::OffsetCommitKey, rec::GroupMetadataKey>;
std::optional<GroupRecordKey> decode_key(std::string_view bytes);
std::optional<rec::OffsetCommitValue> decode_offset_value(std::string_view bytes);
std::optional<rec::GroupMetadataValue> decode_group_value(std::string_view bytes);

}  // namespace kb::coordinator
