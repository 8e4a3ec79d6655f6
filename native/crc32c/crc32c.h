// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI
// (RFC 3720), ext4 metadata and RocksDB. Each block clfs writes carries one.
//
// `crc` is the running value: start with 0, pass the previous result to
// continue over the next piece. Extend(Extend(0, a), b) == Extend(0, a + b).
#pragma once

#include <cstddef>
#include <cstdint>

namespace clfs {
namespace crc32c {

// Uses SSE4.2 (x86-64) or the ARMv8 CRC instructions when the CPU has them,
// else the portable code.
uint32_t Extend(uint32_t crc, const uint8_t* data, size_t length);

// Always the portable slicing-by-8 code, for cross-checking.
uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t length);

// Which implementation Extend uses on this CPU: "sse4.2", "armv8-crc" or "portable".
const char* Implementation();

namespace internal {
// Hardware implementations, defined only where they can be compiled; callers
// must have checked that the CPU supports them.
uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t length);
bool HardwareAvailable();
const char* HardwareName();
}  // namespace internal

}  // namespace crc32c
}  // namespace clfs
