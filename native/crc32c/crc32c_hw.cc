// CRC32C in hardware: the SSE4.2 crc32 instruction on x86-64, the ARMv8 CRC
// extension on AArch64. Both are compiled with a per-function target attribute
// so the rest of the addon keeps the baseline instruction set, and both are
// only called after a run-time check of the CPU.
#include "crc32c.h"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CLFS_CRC32C_X86 1
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
#include <arm_acle.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>
#define CLFS_CRC32C_ARM 1
#endif

namespace clfs {
namespace crc32c {
namespace internal {

#if defined(CLFS_CRC32C_X86)

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* data,
                                                          size_t length) {
  uint64_t c = ~crc;
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
    length--;
  }
  while (length >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    c = _mm_crc32_u64(c, word);
    data += 8;
    length -= 8;
  }
  while (length-- > 0) c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
  return ~static_cast<uint32_t>(c);
}

// __builtin_cpu_supports reads the CPU model libgcc fills in at start-up.
bool HardwareAvailable() { return __builtin_cpu_supports("sse4.2"); }
const char* HardwareName() { return "sse4.2"; }

#elif defined(CLFS_CRC32C_ARM)

__attribute__((target("+crc"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* data,
                                                        size_t length) {
  uint32_t c = ~crc;
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = __crc32cb(c, *data++);
    length--;
  }
  while (length >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    c = __crc32cd(c, word);
    data += 8;
    length -= 8;
  }
  while (length-- > 0) c = __crc32cb(c, *data++);
  return ~c;
}

bool HardwareAvailable() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
const char* HardwareName() { return "armv8-crc"; }

#else

uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t length) {
  return ExtendPortable(crc, data, length);
}
bool HardwareAvailable() { return false; }
const char* HardwareName() { return "portable"; }

#endif

}  // namespace internal
}  // namespace crc32c
}  // namespace clfs
