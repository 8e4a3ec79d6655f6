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

// Three streams at once: the crc32 instruction takes 3 cycles but can start
// one per cycle, so one dependent chain runs at a third of its throughput.
// The input is cut into three consecutive pieces of kLong (then kShort)
// bytes whose CRCs are computed together and joined: the first piece's CRC
// is moved past the second's bytes (multiplied by x^(8 * piece) modulo the
// polynomial, by tables) and the second's XORed in, and so on (Mark Adler's
// method, https://stackoverflow.com/a/17646775).
constexpr size_t kLong = 8192;
constexpr size_t kShort = 256;
constexpr uint32_t kPolynomial = 0x82f63b78;  // reflected

// A GF(2) 32x32 matrix times a vector.
uint32_t MatrixTimes(const uint32_t* matrix, uint32_t vector) {
  uint32_t sum = 0;
  for (; vector != 0; vector >>= 1, matrix++) {
    if (vector & 1) sum ^= *matrix;
  }
  return sum;
}

void MatrixSquare(uint32_t* square, const uint32_t* matrix) {
  for (int n = 0; n < 32; n++) square[n] = MatrixTimes(matrix, matrix[n]);
}

// The operator that appends `length` zero bytes (a power of two) to a CRC,
// as four byte-indexed tables.
struct Shift {
  uint32_t table[4][256];
  explicit Shift(size_t length) {
    uint32_t even[32];
    uint32_t odd[32];
    odd[0] = kPolynomial;  // one zero bit
    for (int n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
    MatrixSquare(even, odd);  // two
    MatrixSquare(odd, even);  // four
    const uint32_t* op = odd;
    for (;;) {
      MatrixSquare(even, odd);  // eight bits: one byte, then 4, 16, ...
      op = even;
      length >>= 1;
      if (length == 0) break;
      MatrixSquare(odd, even);
      op = odd;
      length >>= 1;
      if (length == 0) break;
    }
    for (uint32_t n = 0; n < 256; n++) {
      table[0][n] = MatrixTimes(op, n);
      table[1][n] = MatrixTimes(op, n << 8);
      table[2][n] = MatrixTimes(op, n << 16);
      table[3][n] = MatrixTimes(op, n << 24);
    }
  }
  uint32_t operator()(uint32_t crc) const {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
           table[3][crc >> 24];
  }
};

__attribute__((target("sse4.2"))) uint64_t ThreeWays(uint64_t c, const uint8_t*& data,
                                                     size_t& length, size_t piece,
                                                     const Shift& shift) {
  while (length >= 3 * piece) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (const uint8_t* end = data + piece; data < end; data += 8) {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, data, 8);
      std::memcpy(&w1, data + piece, 8);
      std::memcpy(&w2, data + 2 * piece, 8);
      c = _mm_crc32_u64(c, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
    }
    c = shift(static_cast<uint32_t>(c)) ^ c1;
    c = shift(static_cast<uint32_t>(c)) ^ c2;
    data += 2 * piece;
    length -= 3 * piece;
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* data,
                                                          size_t length) {
  static const Shift long_shift(kLong);
  static const Shift short_shift(kShort);
  uint64_t c = ~crc;
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
    length--;
  }
  c = ThreeWays(c, data, length, kLong, long_shift);
  c = ThreeWays(c, data, length, kShort, short_shift);
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
