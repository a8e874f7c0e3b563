#include "protocol/types.h"

#include <random>

namespace kb {

std::string_view error_name(ErrorCode e) {
  switch (e) {
#define KB_ERR(x) \
  case ErrorCode::x: return #x;
    KB_ERR(UNKNOWN_SERVER_ERROR) KB_ERR(NONE) KB_ERR(OFFSET_OUT_OF_RANGE) KB_ERR(CORRUPT_MESSAGE)
    KB_ERR(UNKNOWN_TOPIC_OR_PARTITION) KB_ERR(INVALID_FETCH_SIZE) KB_ERR(LEADER_NOT_AVAILABLE)
    KB_ERR(NOT_LEADER_OR_FOLLOWER) KB_ERR(REQUEST_TIMED_OUT) KB_ERR(MESSAGE_TOO_LARGE)
    KB_ERR(INVALID_TOPIC_EXCEPTION) KB_ERR(RECORD_LIST_TOO_LARGE) KB_ERR(NOT_ENOUGH_REPLICAS)
    KB_ERR(INVALID_REQUIRED_ACKS) KB_ERR(INVALID_TIMESTAMP) KB_ERR(UNSUPPORTED_VERSION)
    KB_ERR(TOPIC_ALREADY_EXISTS) KB_ERR(INVALID_PARTITIONS) KB_ERR(INVALID_REPLICATION_FACTOR)
    KB_ERR(INVALID_REPLICA_ASSIGNMENT) KB_ERR(INVALID_CONFIG) KB_ERR(NOT_CONTROLLER)
    KB_ERR(INVALID_REQUEST) KB_ERR(POLICY_VIOLATION) KB_ERR(KAFKA_STORAGE_ERROR)
    KB_ERR(TOPIC_DELETION_DISABLED) KB_ERR(FENCED_LEADER_EPOCH) KB_ERR(UNKNOWN_LEADER_EPOCH)
    KB_ERR(UNSUPPORTED_COMPRESSION_TYPE) KB_ERR(FETCH_SESSION_ID_NOT_FOUND)
    KB_ERR(INVALID_FETCH_SESSION_EPOCH) KB_ERR(INVALID_RECORD) KB_ERR(UNKNOWN_TOPIC_ID)
    KB_ERR(UNSUPPORTED_ENDPOINT_TYPE)
#undef KB_ERR
    default:
      return "ERROR";
  }
}

std::string Uuid::to_string() const {
  // Kafka prints topic ids as URL-safe base64 without padding (22 characters).
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  int val = 0, bits = -6;
  for (uint8_t c : bytes) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(a[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(a[((val << 8) >> (bits + 8)) & 0x3F]);
  return out;
}

Uuid Uuid::random() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  Uuid u;
  do {
    for (int i = 0; i < 16; i += 8) {
      uint64_t x = rng();
      for (int j = 0; j < 8; ++j) u.bytes[i + j] = static_cast<uint8_t>(x >> (8 * j));
    }
    u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);
    u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);
  } while (u.is_zero());
  return u;
}

}  // namespace kb
