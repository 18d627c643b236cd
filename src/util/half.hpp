// IEEE fp16 and bfloat16 conversions (round to nearest even), host-side and branch-light.
#pragma once
#include <cstdint>
#include <cstring>

namespace sq {

inline float bits_to_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t float_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }
inline uint16_t float_to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (mant << 13));  // Inf/NaN
  if (exp == 0) {
    if (mant == 0) return bits_to_float(sign);
    // subnormal: normalize
    exp = 127 - 15 + 1;
    while ((mant & 0x400u) == 0) { mant <<= 1; --exp; }
    mant &= 0x3ffu;
    return bits_to_float(sign | (exp << 23) | (mant << 13));
  }
  return bits_to_float(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

inline uint16_t float_to_half(float f) {
  const uint32_t u = float_to_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);                 // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);                // overflow -> Inf (incl. rounding)
  if (abs < 0x38800000u) {                                                // subnormal or zero in fp16
    if (abs < 0x33000000u) return uint16_t(sign);                         // rounds to zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // 14 - (exp - 127) + 13 - 1 ... shift into 10-bit subnormal mantissa
    const uint32_t rounded = (mant >> shift) + (((mant >> (shift - 1)) & 1u) &
                             (((mant & ((1u << (shift - 1)) - 1u)) != 0) | ((mant >> shift) & 1u)));
    return uint16_t(sign | rounded);
  }
  uint32_t r = abs + 0xc8000fffu + ((abs >> 13) & 1u);  // rebias exponent (-112 << 23) and round
  return uint16_t(sign | (r >> 13));
}

}  // namespace sq
