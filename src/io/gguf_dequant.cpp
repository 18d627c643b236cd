#include "io/gguf_dequant.hpp"

#include <cstring>

#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {
namespace {

float load_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// Q4_0: f16 scale d, then 16 bytes; the low nibbles hold elements 0..15, the high nibbles 16..31,
// each offset by 8: y = d * (q - 8).
void q4_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(int(qs[j] & 0x0F) - 8);
    y[j + 16] = d * float(int(qs[j] >> 4) - 8);
  }
}

// Q4_1: f16 scale d, f16 minimum m, 16 bytes of nibbles laid out as in Q4_0: y = d * q + m.
void q4_1(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(qs[j] & 0x0F) * d + m;
    y[j + 16] = float(qs[j] >> 4) * d + m;
  }
}

// Q8_0: f16 scale d, 32 signed bytes: y = d * q.
void q8_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  for (int j = 0; j < 32; ++j) y[j] = d * float(int8_t(b[2 + j]));
}

// Q4_K super-block of 256: f16 d, f16 dmin, 12 bytes packing eight 6-bit (scale, min) pairs, 128 bytes
// of nibbles. Sub-block s (32 elements) decodes as y = d*scale[s]*q - dmin*min[s]. The nibbles come in
// four 32-byte chunks; chunk c holds sub-block 2c in its low nibbles and 2c+1 in its high nibbles.
// Pairs 0..3 sit in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); pairs 4..7 take their low
// 4 bits from bytes 8..11 (scale in the low nibble, min in the high one) and their top 2 bits from the
// spare top bits of bytes 0..3 (scales) and 4..7 (mins).
void q4_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const uint8_t* qs = b + 16;
  for (int s = 0; s < 8; ++s) {
    int scale, min;
    if (s < 4) {
      scale = packed[s] & 0x3F;
      min = packed[s + 4] & 0x3F;
    } else {
      scale = (packed[s + 4] & 0x0F) | ((packed[s - 4] >> 6) << 4);
      min = (packed[s + 4] >> 4) | ((packed[s] >> 6) << 4);
    }
    const float step = d * float(scale), offset = dmin * float(min);
    const uint8_t* chunk = qs + (s / 2) * 32;
    const int shift = (s % 2) * 4;
    for (int l = 0; l < 32; ++l) y[s * 32 + l] = step * float((chunk[l] >> shift) & 0x0F) - offset;
  }
}

// Q6_K super-block of 256: 128 bytes of low nibbles (ql), 64 bytes of 2-bit high parts (qh), 16 int8
// scales (one per 16 elements), f16 d: y = d * scale[i/16] * (q - 32) with q = low | high << 4.
// Each half of 128 elements uses 64 bytes of ql and 32 of qh; within a half, element 32*r + l
// (r = 0..3, l = 0..31) takes its low bits from ql[l + 32*(r%2)] (low nibble for r < 2, high for
// r >= 2) and its high bits from bits 2r..2r+1 of qh[l].
void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_half(b + 208);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* lo = ql + half * 64;
    const uint8_t* hi = qh + half * 32;
    for (int r = 0; r < 4; ++r) {
      for (int l = 0; l < 32; ++l) {
        const int idx = half * 128 + r * 32 + l;
        const int low = (lo[l + 32 * (r % 2)] >> (4 * (r / 2))) & 0x0F;
        const int high = (hi[l] >> (2 * r)) & 0x03;
        y[idx] = d * float(scales[idx / 16]) * float((low | (high << 4)) - 32);
      }
    }
  }
}

template <void (*Decode)(const uint8_t*, float*)>
void decode_blocks(const uint8_t* src, float* dst, size_t n, size_t elems, size_t bytes) {
  for (size_t i = 0; i < n / elems; ++i) Decode(src + i * bytes, dst + i * elems);
}

}  // namespace

void gguf_dequantize(DType t, const uint8_t* src, float* dst, size_t n) {
  const size_t elems = dtype_block_elems(t), bytes = dtype_block_bytes(t);
  if (elems == 0 || n % elems != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "gguf_dequantize: ", n, " elements is not a whole number of ",
                dtype_name(t), " blocks");
  switch (t) {
    case SQ_DTYPE_F32: case SQ_DTYPE_F16: case SQ_DTYPE_BF16: convert_to_f32(t, src, dst, n); return;
    case SQ_DTYPE_Q4_0: decode_blocks<q4_0>(src, dst, n, elems, bytes); return;
    case SQ_DTYPE_Q4_1: decode_blocks<q4_1>(src, dst, n, elems, bytes); return;
    case SQ_DTYPE_Q8_0: decode_blocks<q8_0>(src, dst, n, elems, bytes); return;
    case SQ_DTYPE_Q4_K: decode_blocks<q4_k>(src, dst, n, elems, bytes); return;
    case SQ_DTYPE_Q6_K: decode_blocks<q6_k>(src, dst, n, elems, bytes); return;
    default: break;
  }
  throw_error(SQ_ERR_UNSUPPORTED, "GGUF storage type ", dtype_name(t), " cannot be decoded");
}

}  // namespace sq
