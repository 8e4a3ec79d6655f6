// CRC32C in hardware: the SSE4.2 crc32 instruction on x86-64, the ARMv8 CRC
// extension on AArch64. Both are compiled with a per-function target attribute
// so the rest of the addon keeps the baseline instruction set, and both are
// only called after a run-time check of the CPU.
//
// x86-64: GCC and Clang (Linux, macOS, MinGW) name the ISA in a target
// attribute: "crc32" as well as "sse4.2", since Clang 16 gates _mm_crc32_* on
// the crc32 feature alone; MSVC (_M_X64, not __x86_64__) needs no attribute
// and asks the CPU with __cpuid. AArch64: Linux asks the kernel (HWCAP_CRC32),
// macOS asks sysctl (every Apple silicon CPU has the extension).
#include "crc32c.h"

#include <cstring>

#if (defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))) || \
    (defined(_M_X64) && defined(_MSC_VER))
#include <nmmintrin.h>
#define CLFS_CRC32C_X86 1
#if defined(_MSC_VER)
#include <intrin.h>  // __cpuid
#else
#include <cpuid.h>  // __get_cpuid
#endif
#if defined(__GNUC__) || defined(__clang__)
#define CLFS_TARGET_CRC32 __attribute__((target("sse4.2,crc32")))
#else
#define CLFS_TARGET_CRC32
#endif
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__linux__) || defined(__APPLE__))
#include <arm_acle.h>
#if defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#else
#include <sys/sysctl.h>
#endif
#define CLFS_CRC32C_ARM 1
#endif

namespace clfs {
namespace crc32c {
namespace internal {

#if defined(CLFS_CRC32C_X86)

// The crc32 instruction has a latency of three cycles and a throughput of
// one a cycle: three independent streams keep it busy. Each stream's CRC is
// then moved past the bytes of the streams after it by a "zeros operator"
// (Mark Adler's method: the CRC of a register followed by n zero bytes is
// linear in the register), applied a byte at a time through four tables.
// The tables are built by the compiler: constants, not mutable state.

constexpr uint32_t kPolynomial = 0x82F63B78u;
constexpr size_t kLong = 8192;  // bytes per stream, large buffers
constexpr size_t kShort = 256;  // bytes per stream, the rest

struct Matrix {
  uint32_t rows[32];
};

struct ZerosTables {
  uint32_t t[4][256];
};

constexpr uint32_t Times(const Matrix& m, uint32_t vec) {
  uint32_t sum = 0;
  for (int n = 0; vec != 0; n++, vec >>= 1) {
    if ((vec & 1) != 0) sum ^= m.rows[n];
  }
  return sum;
}

constexpr Matrix Square(const Matrix& m) {
  Matrix square{};
  for (int n = 0; n < 32; n++) square.rows[n] = Times(m, m.rows[n]);
  return square;
}

// The operator that appends `length` zero bytes (a power of two) to a CRC register.
constexpr Matrix ZerosOperator(size_t length) {
  Matrix op{};  // one zero bit
  op.rows[0] = kPolynomial;
  for (int n = 1; n < 32; n++) op.rows[n] = 1u << (n - 1);
  for (int bits = 0; bits < 3; bits++) op = Square(op);  // one zero byte
  for (; length > 1; length >>= 1) op = Square(op);
  return op;
}

constexpr ZerosTables MakeZeros(size_t length) {
  const Matrix op = ZerosOperator(length);
  ZerosTables z{};
  for (uint32_t n = 0; n < 256; n++) {
    z.t[0][n] = Times(op, n);
    z.t[1][n] = Times(op, n << 8);
    z.t[2][n] = Times(op, n << 16);
    z.t[3][n] = Times(op, n << 24);
  }
  return z;
}

constexpr ZerosTables kZerosLong = MakeZeros(kLong);
constexpr ZerosTables kZerosShort = MakeZeros(kShort);

inline uint64_t Shift(const ZerosTables& z, uint64_t crc) {
  return z.t[0][crc & 0xFF] ^ z.t[1][(crc >> 8) & 0xFF] ^ z.t[2][(crc >> 16) & 0xFF] ^
         z.t[3][(crc >> 24) & 0xFF];
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

// Three streams of `stride` bytes each, while at least 3 * stride bytes remain.
CLFS_TARGET_CRC32 inline uint64_t Streams(uint64_t c, const uint8_t*& data, size_t& length,
                                          size_t stride, const ZerosTables& zeros) {
  while (length >= 3 * stride) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    const uint8_t* end = data + stride;
    do {
      c = _mm_crc32_u64(c, Load64(data));
      c1 = _mm_crc32_u64(c1, Load64(data + stride));
      c2 = _mm_crc32_u64(c2, Load64(data + 2 * stride));
      data += 8;
    } while (data < end);
    c = Shift(zeros, c) ^ c1;
    c = Shift(zeros, c) ^ c2;
    data += 2 * stride;
    length -= 3 * stride;
  }
  return c;
}

CLFS_TARGET_CRC32 uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t length) {
  uint64_t c = ~crc;
  while (length > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
    length--;
  }
  c = Streams(c, data, length, kLong, kZerosLong);
  c = Streams(c, data, length, kShort, kZerosShort);
  while (length >= 8) {
    c = _mm_crc32_u64(c, Load64(data));
    data += 8;
    length -= 8;
  }
  while (length-- > 0) c = _mm_crc32_u8(static_cast<uint32_t>(c), *data++);
  return ~static_cast<uint32_t>(c);
}

#if defined(_MSC_VER)
// CPUID leaf 1: ECX bit 20 is SSE4.2.
bool HardwareAvailable() {
  int info[4];
  __cpuid(info, 1);
  return (info[2] & (1 << 20)) != 0;
}
#else
// Asked directly rather than with __builtin_cpu_supports, whose CPU model
// lives in libgcc or compiler-rt: one fewer runtime symbol to resolve.
bool HardwareAvailable() {
  unsigned int eax = 0;
  unsigned int ebx = 0;
  unsigned int ecx = 0;
  unsigned int edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_SSE4_2) != 0;
}
#endif
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

#if defined(__linux__)
bool HardwareAvailable() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#else
bool HardwareAvailable() {
  int present = 0;
  size_t size = sizeof present;
  return sysctlbyname("hw.optional.armv8_crc32", &present, &size, nullptr, 0) == 0 && present != 0;
}
#endif
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
