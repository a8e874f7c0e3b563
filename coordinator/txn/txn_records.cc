#include "coordinator/txn/txn_records.h"

#include "coordinator/group/versioned_record.h"

namespace kb::coordinator {

namespace {
constexpr int16_t kKeyVersion = 0;
constexpr int16_t kValueVersion = 0;
}  // namespace

std::string encode_txn_key(const std::string& transactional_id) {
  rec::TransactionLogKey k;
  k.transactional_id = transactional_id;
  return encode_versioned(k, kKeyVersion);
}

std::string encode_txn_value(const rec::TransactionLogValue& value) { return encode_versioned(value, kValueVersion); }

std::optional<std::string> decode_txn_key(std::string_view bytes) {
  auto k = decode_versioned<rec::TransactionLogKey>(bytes);
  if (!k) return std::nullopt;
  return std::move(k->transactional_id);
}

std::optional<rec::TransactionLogValue> decode_txn_value(std::string_view bytes) {
  return decode_versioned<rec::TransactionLogValue>(bytes);
}

}  // namespace kb::coordinator
