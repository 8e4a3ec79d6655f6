// Portable CRC32C (slicing-by-8, tables built at compile time) and the choice
// between it and the hardware code.
#include "crc32c.h"

#include <array>

namespace clfs {
namespace crc32c {

namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++) {
    for (size_t s = 1; s < 8; s++) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

// A constant, computed by the compiler: not mutable global state.
constexpr Tables kTables = MakeTables();

inline uint32_t Load32LE(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t length) {
  uint32_t c = ~crc;
  while (length >= 8) {
    const uint32_t lo = Load32LE(data) ^ c;
    const uint32_t hi = Load32LE(data + 4);
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    data += 8;
    length -= 8;
  }
  while (length-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *data++) & 0xFF];
  return ~c;
}

uint32_t Extend(uint32_t crc, const uint8_t* data, size_t length) {
  if (internal::HardwareAvailable()) return internal::ExtendHardware(crc, data, length);
  return ExtendPortable(crc, data, length);
}

const char* Implementation() {
  return internal::HardwareAvailable() ? internal::HardwareName() : "portable";
}

}  // namespace crc32c
}  // namespace clfs
