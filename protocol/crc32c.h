// CRC-32C (Castagnoli), the checksum of RecordBatch v2. The SSE4.2 `crc32` instruction is used
// when the CPU has it (checked once at run time); otherwise a portable table version.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kb {

// Extends `crc` (0 to start) over n bytes; crc32c(b, n2, crc32c(a, n1)) == crc32c(a||b).
uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc = 0);
uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc = 0);
bool crc32c_hardware_available();

}  // namespace kb
