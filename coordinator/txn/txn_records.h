// The records the transaction coordinator keeps in __transaction_state, in Kafka's format so
// Kafka's tools can read the topic: key TransactionLogKey v0 (the transactional id), value
// TransactionLogValue (v0 written, as Kafka does for transactions of the classic protocol; v0
// and v1 read), each after an int16 version. A null value forgets the transactional id.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "coordinator/txn/records/transaction_log_key.h"
#include "coordinator/txn/records/transaction_log_value.h"

namespace kb::coordinator {

std::string encode_txn_key(const std::string& transactional_id);
std::string encode_txn_value(const rec::TransactionLogValue& value);
// nullopt for bytes that are not a key or value of a known version.
std::optional<std::string> decode_txn_key(std::string_view bytes);
std::optional<rec::TransactionLogValue> decode_txn_value(std::string_view bytes);

}  // namespace kb::coordinator
