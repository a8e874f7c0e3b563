// The legacy (magic 0/1) message-set converter that Produce v0-2 uses. Input: one control
// byte (bit 0: set each top-level message's CRC-32 right first), then the message set.
// Property: what it converts is one v2 batch the produce validator accepts, with as many records.
#include <cstddef>
#include <cstdint>

#include "protocol/legacy_messages.h"
#include "protocol/record_batch.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::vector<uint8_t> set(data + 1, data + size);
  if (data[0] & 1) fuzz::fix_legacy_crcs(set);
  auto converted = convert_legacy_message_set(set, 1 << 20);
  if (!converted.ok()) return 0;
  auto validated = validate_batches(converted.value().batch, 1 << 30);
  fuzz::require(validated.ok());
  fuzz::require(validated.value().batches.size() == 1);
  fuzz::require(validated.value().records == converted.value().records);
  return 0;
}
