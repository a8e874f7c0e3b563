#include "coordinator/group/group_table.h"

namespace kb::coordinator {

int32_t java_hash_partition(std::string_view key, int32_t partitions) {
  // Java's String.hashCode: s[0]*31^(n-1) + ... over UTF-16 code units, in int32 arithmetic.
  uint32_t h = 0;
  auto add_unit = [&](uint32_t unit) { h = h * 31 + unit; };
  for (size_t i = 0; i < key.size();) {
    auto c = static_cast<unsigned char>(key[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if ((c >> 5) == 0x6) {
      cp = c & 0x1f, len = 2;
    } else if ((c >> 4) == 0xe) {
      cp = c & 0x0f, len = 3;
    } else if ((c >> 3) == 0x1e) {
      cp = c & 0x07, len = 4;
    } else {
      cp = 0xfffd, len = 1;  // not UTF-8: Java would have decoded a replacement character
    }
    if (i + len > key.size()) {
      cp = 0xfffd;
      len = key.size() - i;
    } else {
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(key[i + k]) & 0x3f);
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      add_unit(0xd800 + (cp >> 10));
      add_unit(0xdc00 + (cp & 0x3ff));
    } else {
      add_unit(cp);
    }
    i += len;
  }
  auto hash = static_cast<int32_t>(h);
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
  int32_t abs = hash == INT32_MIN ? 0 : (hash < 0 ? -hash : hash);
  return partitions > 0 ? abs % partitions : 0;
}

ErrorCode commit_error_for(ErrorCode append_error) {
  switch (append_error) {
    case ErrorCode::MESSAGE_TOO_LARGE:
    case ErrorCode::RECORD_LIST_TOO_LARGE:
    case ErrorCode::INVALID_FETCH_SIZE:
      return ErrorCode::INVALID_COMMIT_OFFSET_SIZE;
    default:
      return coordinator_append_error(append_error);
  }
}

ErrorCode GroupTable::coordinator_error(const std::string& group_id) const {
  if (stopped) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (partition_count <= 0) return ErrorCode::NOT_COORDINATOR;
  auto it = partitions.find(java_hash_partition(group_id, partition_count));
  if (it == partitions.end()) return ErrorCode::NOT_COORDINATOR;
  return it->second == PartitionState::Loading ? ErrorCode::COORDINATOR_LOAD_IN_PROGRESS : ErrorCode::NONE;
}

bool GroupTable::owns(int32_t partition) const {
  auto it = partitions.find(partition);
  return !stopped && it != partitions.end() && it->second == PartitionState::Owned;
}

Group* GroupTable::find(const std::string& group_id) {
  auto it = groups.find(group_id);
  return it == groups.end() ? nullptr : it->second.get();
}

Group& GroupTable::get_or_create(const std::string& group_id) {
  auto& slot = groups[group_id];
  if (!slot) slot = std::make_unique<Group>(group_id, java_hash_partition(group_id, partition_count), loop.now_ms());
  return *slot;
}

}  // namespace kb::coordinator
