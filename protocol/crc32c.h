// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of RecordBatch v2.
// The SSE4.2 `crc32` instruction is used when the CPU has it (checked once, at the first call);
// otherwise a portable slicing-by-8 table version. Both give identical results.
// Thread-safety: all functions are pure and may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kb {

// Extends `crc` (0 to start) over n bytes: crc32c(b, n2, crc32c(a, n1)) == crc32c(a || b).
uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc = 0);
// The table-driven version, whatever the CPU (tests compare it with crc32c()).
uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc = 0);
// Whether crc32c() runs on the SSE4.2 instruction on this machine.
bool crc32c_hardware_available();

}  // namespace kb
