// Down-conversion of v2 batches for Fetch v0-3 (down_convert). Input: one control byte (bit 0:
// set the batches' CRCs right, bit 1: magic 1 instead of 0, bit 2: at_least_one, bits 3-7:
// max_bytes as a multiple of 64), then batches as a log read returns them.
// Property: the answer stays within max_bytes unless at_least_one let one message through, and
// converts back up (the legacy converter) to as many records.
#include <cstddef>
#include <cstdint>

#include "protocol/down_convert.h"
#include "protocol/legacy_messages.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t control = data[0];
  std::vector<uint8_t> batches(data + 1, data + size);
  if (control & 1) fuzz::fix_batch_crcs(batches);
  int magic = (control >> 1) & 1;
  bool at_least_one = (control >> 2) & 1;
  size_t max_bytes = size_t(control >> 3) * 64;
  auto out = down_convert(batches, magic, 0, max_bytes, at_least_one);
  if (!out.ok()) return 0;
  const auto& messages = out.value().messages;
  if (!at_least_one) fuzz::require(messages.size() <= max_bytes);
  if (messages.empty()) return 0;
  auto up = convert_legacy_message_set(messages, 1 << 30);
  fuzz::require(up.ok());
  fuzz::require(up.value().records == out.value().records);
  return 0;
}
