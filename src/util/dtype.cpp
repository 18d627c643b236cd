#include "util/dtype.hpp"

#include <cstring>

#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {

size_t dtype_size(DType t) {
  switch (t) {
    case SQ_DTYPE_F32: case SQ_DTYPE_I32: return 4;
    case SQ_DTYPE_F16: case SQ_DTYPE_BF16: return 2;
    case SQ_DTYPE_I8: case SQ_DTYPE_U8: return 1;
    default: return 0;
  }
}

size_t dtype_block_elems(DType t) {
  switch (t) {
    case SQ_DTYPE_Q4_0: case SQ_DTYPE_Q4_1: case SQ_DTYPE_Q8_0: return 32;
    case SQ_DTYPE_Q4_K: case SQ_DTYPE_Q6_K: return 256;
    default: return dtype_size(t) ? 1 : 0;
  }
}

size_t dtype_block_bytes(DType t) {
  switch (t) {
    case SQ_DTYPE_Q4_0: return 2 + 16;
    case SQ_DTYPE_Q4_1: return 2 + 2 + 16;
    case SQ_DTYPE_Q8_0: return 2 + 32;
    case SQ_DTYPE_Q4_K: return 2 + 2 + 12 + 128;
    case SQ_DTYPE_Q6_K: return 128 + 64 + 16 + 2;
    default: return dtype_size(t);
  }
}

size_t dtype_storage_bytes(DType t, uint64_t numel, const std::string& what) {
  const size_t be = dtype_block_elems(t), bb = dtype_block_bytes(t);
  if (be == 0) throw_error(SQ_ERR_UNSUPPORTED, what, ": unsupported dtype code ", t);
  if (numel % be != 0)
    throw_error(SQ_ERR_FORMAT, what, ": ", numel, " elements is not a whole number of ", dtype_name(t),
                " blocks of ", be);
  const uint64_t blocks = numel / be;
  if (blocks > (uint64_t(1) << 62) / (bb ? bb : 1))
    throw_error(SQ_ERR_FORMAT, what, ": element count ", numel, " is too large");
  return size_t(blocks * bb);
}

const char* dtype_name(DType t) {
  switch (t) {
    case SQ_DTYPE_F32: return "F32";
    case SQ_DTYPE_F16: return "F16";
    case SQ_DTYPE_BF16: return "BF16";
    case SQ_DTYPE_I32: return "I32";
    case SQ_DTYPE_I8: return "I8";
    case SQ_DTYPE_U8: return "U8";
    case SQ_DTYPE_Q4_0: return "Q4_0";
    case SQ_DTYPE_Q4_1: return "Q4_1";
    case SQ_DTYPE_Q8_0: return "Q8_0";
    case SQ_DTYPE_Q4_K: return "Q4_K";
    case SQ_DTYPE_Q6_K: return "Q6_K";
    default: return "?";
  }
}

bool dtype_is_float(DType t) { return t == SQ_DTYPE_F32 || t == SQ_DTYPE_F16 || t == SQ_DTYPE_BF16; }

void convert_to_f32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case SQ_DTYPE_F32: std::memcpy(dst, src, n * 4); return;
    case SQ_DTYPE_F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, s + i, 2); dst[i] = half_to_float(h); }
      return;
    }
    case SQ_DTYPE_BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, s + i, 2); dst[i] = bf16_to_float(h); }
      return;
    }
    default: throw_error(SQ_ERR_UNSUPPORTED, "cannot convert dtype ", dtype_name(t), " to F32 directly");
  }
}

void convert_from_f32(DType t, const float* src, void* dst, size_t n) {
  switch (t) {
    case SQ_DTYPE_F32: std::memcpy(dst, src, n * 4); return;
    case SQ_DTYPE_F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) { const uint16_t h = float_to_half(src[i]); std::memcpy(d + i, &h, 2); }
      return;
    }
    case SQ_DTYPE_BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) { const uint16_t h = float_to_bf16(src[i]); std::memcpy(d + i, &h, 2); }
      return;
    }
    default: throw_error(SQ_ERR_UNSUPPORTED, "cannot store F32 as dtype ", dtype_name(t));
  }
}

}  // namespace sq
