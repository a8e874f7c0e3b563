// Vocabulary shared by every kbroker subsystem: Kafka error codes, strong ids and offsets,
// and Result<T> (errors as values). Header-only; depends on nothing but the standard library.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kb {

// Kafka's error codes (org.apache.kafka.common.protocol.Errors), the numbers clients match on.
enum class ErrorCode : int16_t {
  UNKNOWN_SERVER_ERROR = -1,
  NONE = 0,
  OFFSET_OUT_OF_RANGE = 1,
  CORRUPT_MESSAGE = 2,
  UNKNOWN_TOPIC_OR_PARTITION = 3,
  INVALID_FETCH_SIZE = 4,
  LEADER_NOT_AVAILABLE = 5,
  NOT_LEADER_OR_FOLLOWER = 6,
  REQUEST_TIMED_OUT = 7,
  BROKER_NOT_AVAILABLE = 8,
  REPLICA_NOT_AVAILABLE = 9,
  MESSAGE_TOO_LARGE = 10,
  STALE_CONTROLLER_EPOCH = 11,
  OFFSET_METADATA_TOO_LARGE = 12,
  NETWORK_EXCEPTION = 13,
  COORDINATOR_LOAD_IN_PROGRESS = 14,
  COORDINATOR_NOT_AVAILABLE = 15,
  NOT_COORDINATOR = 16,
  INVALID_TOPIC_EXCEPTION = 17,
  RECORD_LIST_TOO_LARGE = 18,
  NOT_ENOUGH_REPLICAS = 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
  INVALID_REQUIRED_ACKS = 21,
  ILLEGAL_GENERATION = 22,
  INCONSISTENT_GROUP_PROTOCOL = 23,
  INVALID_GROUP_ID = 24,
  UNKNOWN_MEMBER_ID = 25,
  INVALID_SESSION_TIMEOUT = 26,
  REBALANCE_IN_PROGRESS = 27,
  INVALID_COMMIT_OFFSET_SIZE = 28,
  TOPIC_AUTHORIZATION_FAILED = 29,
  GROUP_AUTHORIZATION_FAILED = 30,
  CLUSTER_AUTHORIZATION_FAILED = 31,
  INVALID_TIMESTAMP = 32,
  UNSUPPORTED_SASL_MECHANISM = 33,
  ILLEGAL_SASL_STATE = 34,
  UNSUPPORTED_VERSION = 35,
  TOPIC_ALREADY_EXISTS = 36,
  INVALID_PARTITIONS = 37,
  INVALID_REPLICATION_FACTOR = 38,
  INVALID_REPLICA_ASSIGNMENT = 39,
  INVALID_CONFIG = 40,
  NOT_CONTROLLER = 41,
  INVALID_REQUEST = 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
  POLICY_VIOLATION = 44,
  OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
  DUPLICATE_SEQUENCE_NUMBER = 46,
  INVALID_PRODUCER_EPOCH = 47,
  INVALID_TXN_STATE = 48,
  INVALID_PRODUCER_ID_MAPPING = 49,
  INVALID_TRANSACTION_TIMEOUT = 50,
  CONCURRENT_TRANSACTIONS = 51,
  TRANSACTION_COORDINATOR_FENCED = 52,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
  SECURITY_DISABLED = 54,
  OPERATION_NOT_ATTEMPTED = 55,
  KAFKA_STORAGE_ERROR = 56,
  LOG_DIR_NOT_FOUND = 57,
  SASL_AUTHENTICATION_FAILED = 58,
  UNKNOWN_PRODUCER_ID = 59,
  REASSIGNMENT_IN_PROGRESS = 60,
  DELEGATION_TOKEN_AUTH_DISABLED = 61,
  DELEGATION_TOKEN_NOT_FOUND = 62,
  DELEGATION_TOKEN_OWNER_MISMATCH = 63,
  DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64,
  DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65,
  DELEGATION_TOKEN_EXPIRED = 66,
  INVALID_PRINCIPAL_TYPE = 67,
  NON_EMPTY_GROUP = 68,
  GROUP_ID_NOT_FOUND = 69,
  FETCH_SESSION_ID_NOT_FOUND = 70,
  INVALID_FETCH_SESSION_EPOCH = 71,
  LISTENER_NOT_FOUND = 72,
  TOPIC_DELETION_DISABLED = 73,
  FENCED_LEADER_EPOCH = 74,
  UNKNOWN_LEADER_EPOCH = 75,
  UNSUPPORTED_COMPRESSION_TYPE = 76,
  STALE_BROKER_EPOCH = 77,
  OFFSET_NOT_AVAILABLE = 78,
  MEMBER_ID_REQUIRED = 79,
  PREFERRED_LEADER_NOT_AVAILABLE = 80,
  GROUP_MAX_SIZE_REACHED = 81,
  FENCED_INSTANCE_ID = 82,
  ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
  ELECTION_NOT_NEEDED = 84,
  NO_REASSIGNMENT_IN_PROGRESS = 85,
  GROUP_SUBSCRIBED_TO_TOPIC = 86,
  INVALID_RECORD = 87,
  UNSTABLE_OFFSET_COMMIT = 88,
  THROTTLING_QUOTA_EXCEEDED = 89,
  PRODUCER_FENCED = 90,
  RESOURCE_NOT_FOUND = 91,
  DUPLICATE_RESOURCE = 92,
  UNACCEPTABLE_CREDENTIAL = 93,
  INCONSISTENT_VOTER_SET = 94,
  INVALID_UPDATE_VERSION = 95,
  FEATURE_UPDATE_FAILED = 96,
  PRINCIPAL_DESERIALIZATION_FAILURE = 97,
  SNAPSHOT_NOT_FOUND = 98,
  POSITION_OUT_OF_RANGE = 99,
  UNKNOWN_TOPIC_ID = 100,
  DUPLICATE_BROKER_REGISTRATION = 101,
  BROKER_ID_NOT_REGISTERED = 102,
  INCONSISTENT_TOPIC_ID = 103,
  INCONSISTENT_CLUSTER_ID = 104,
  TRANSACTIONAL_ID_NOT_FOUND = 105,
  FETCH_SESSION_TOPIC_ID_ERROR = 106,
  INELIGIBLE_REPLICA = 107,
  NEW_LEADER_ELECTED = 108,
  OFFSET_MOVED_TO_TIERED_STORAGE = 109,
  FENCED_MEMBER_EPOCH = 110,
  UNRELEASED_INSTANCE_ID = 111,
  UNSUPPORTED_ASSIGNOR = 112,
  STALE_MEMBER_EPOCH = 113,
  MISMATCHED_ENDPOINT_TYPE = 114,
  UNSUPPORTED_ENDPOINT_TYPE = 115,
  UNKNOWN_CONTROLLER_ID = 116,
  UNKNOWN_SUBSCRIPTION_ID = 117,
  TELEMETRY_TOO_LARGE = 118,
  INVALID_REGISTRATION = 119,
  TRANSACTION_ABORTABLE = 120,
};

constexpr int16_t to_wire(ErrorCode e) { return static_cast<int16_t>(e); }
std::string_view error_name(ErrorCode e);  // "CORRUPT_MESSAGE"; defined in protocol/types.cc

// An error code with the human-readable message Kafka puts in error_message fields and logs.
struct Error {
  ErrorCode code = ErrorCode::UNKNOWN_SERVER_ERROR;
  std::string message;
};

// Errors as values: either a T or an Error. Inside the broker nothing throws across layers.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error e) : v_(std::move(e)) {}
  Result(ErrorCode c, std::string msg = {}) : v_(Error{c, std::move(msg)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  ErrorCode code() const { return ok() ? ErrorCode::NONE : error().code; }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}
  Result(ErrorCode c, std::string msg = {}) : err_{c, std::move(msg)}, ok_(c == ErrorCode::NONE) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }
  ErrorCode code() const { return ok_ ? ErrorCode::NONE : err_.code; }

 private:
  Error err_{ErrorCode::NONE, {}};
  bool ok_ = true;
};
using Status = Result<void>;

// A strong integer type: an Offset cannot be passed where a PartitionId is expected.
template <class Tag, class Rep>
struct Strong {
  Rep v{};
  constexpr Strong() = default;
  constexpr explicit Strong(Rep x) : v(x) {}
  constexpr Rep value() const { return v; }
  constexpr auto operator<=>(const Strong&) const = default;
};

using Offset = Strong<struct OffsetTag, int64_t>;          // position of a record in a partition log
using PartitionId = Strong<struct PartitionIdTag, int32_t>;
using NodeId = Strong<struct NodeIdTag, int32_t>;          // broker / controller node.id
using LeaderEpoch = Strong<struct LeaderEpochTag, int32_t>;
using ProducerId = Strong<struct ProducerIdTag, int64_t>;

constexpr Offset operator+(Offset o, int64_t d) { return Offset(o.v + d); }
constexpr int64_t operator-(Offset a, Offset b) { return a.v - b.v; }

// A topic's 16-byte id (Kafka's Uuid), all zeros = unset.
struct Uuid {
  uint8_t bytes[16] = {};
  bool is_zero() const {
    for (auto b : bytes)
      if (b) return false;
    return true;
  }
  auto operator<=>(const Uuid&) const = default;
  std::string to_string() const;  // Kafka's url-safe base64 without padding (protocol/types.cc)
  static Uuid random();           // random v4-style id, never zero (protocol/types.cc)
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  std::string to_string() const { return topic + "-" + std::to_string(partition); }
};

// The topics Kafka reports as internal (Topic.isInternal): the coordinators' own logs. Only
// the broker writes, creates or removes them; clients are refused as Kafka refuses them.
inline bool is_internal_topic(std::string_view name) {
  return name == "__consumer_offsets" || name == "__transaction_state";
}

}  // namespace kb

template <>
struct std::hash<kb::TopicPartition> {
  size_t operator()(const kb::TopicPartition& tp) const noexcept {
    return std::hash<std::string>()(tp.topic) * 31 + static_cast<size_t>(tp.partition);
  }
};
template <>
struct std::hash<kb::Uuid> {
  size_t operator()(const kb::Uuid& u) const noexcept {
    size_t h = 0;
    for (auto b : u.bytes) h = h * 131 + b;
    return h;
  }
};
