// The produce path's record-batch validator (validate_batches). Input: one control byte, then
// the batches. Control bit 0 sets every batch's CRC-32C right first; bits 1-3 pick the codec
// a validated batch is recompressed with (as a topic's compression.type does).
// Properties: a validated batch's records can all be read, as many as validation counted, and
// recompressing it gives a batch that validates again with the same records.
#include <cstddef>
#include <cstdint>

#include "protocol/record_batch.h"
#include "tests/fuzz/fuzz_util.h"

using namespace kb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t control = data[0];
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (control & 1) fuzz::fix_batch_crcs(bytes);
  auto validated = validate_batches(bytes, 1 << 20);
  if (!validated.ok()) return 0;
  int codec = (control >> 1) % 5;
  for (const BatchInfo& b : validated.value().batches) {
    std::span<const uint8_t> batch(bytes.data() + b.position, size_t(b.bytes));
    int32_t seen = 0;
    fuzz::require(for_each_record_decompressed(batch, [&](const RecordView&) { ++seen; }).ok());
    fuzz::require(seen == b.records);
    auto again = recompress_batch(batch, codec);
    if (!again.ok()) continue;  // e.g. the recompressed batch would outgrow the limit
    auto revalidated = validate_batches(again.value(), 1 << 30);
    fuzz::require(revalidated.ok() && revalidated.value().records == b.records);
  }
  return 0;
}
