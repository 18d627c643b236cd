#include "quant/pack.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {
namespace gptq {
namespace {

// Number of int32 words holding `count` b-bit values; refuses counts GPTQ readers cannot take.
int64_t words_for(int64_t count, int bits, const char* what) {
  if ((count * bits) % 32 != 0)
    throw_error(SQ_ERR_UNSUPPORTED, "GPTQ packing: ", what, " = ", count, " at ", bits, " bits gives ", count * bits,
                " bits, not a multiple of 32 (GPTQ layouts are not padded; ", what, " must be a multiple of ",
                32 / (bits == 3 ? 1 : bits), ")");
  return count * bits / 32;
}

// OR value v (b bits) into the bit stream `words` at value index k; `stride` spaces consecutive words.
inline void put(uint32_t* words, int64_t stride, int64_t k, int bits, uint32_t v) {
  const int64_t pos = k * bits;
  const int64_t word = pos >> 5;
  const int off = int(pos & 31);
  words[word * stride] |= v << off;
  if (off + bits > 32) words[(word + 1) * stride] |= v >> (32 - off);  // straddles into the next word
}

inline uint32_t get(const uint32_t* words, int64_t stride, int64_t k, int bits) {
  const int64_t pos = k * bits;
  const int64_t word = pos >> 5;
  const int off = int(pos & 31);
  uint32_t v = words[word * stride] >> off;
  if (off + bits > 32) v |= words[(word + 1) * stride] << (32 - off);
  return v & ((1u << bits) - 1u);
}

const uint32_t* as_u32(const int32_t* p) { return reinterpret_cast<const uint32_t*>(p); }
uint32_t* as_u32(int32_t* p) { return reinterpret_cast<uint32_t*>(p); }

void check_groups(const std::vector<int32_t>& g_idx, int64_t cols, int64_t n_groups) {
  if (g_idx.empty()) {
    if (n_groups != 1)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "GPTQ dequantize: g_idx is empty but n_groups is ", n_groups,
                  " (an empty g_idx means one group)");
    return;
  }
  if (int64_t(g_idx.size()) != cols)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "GPTQ dequantize: g_idx has ", g_idx.size(), " entries; expected cols = ",
                cols);
  for (int64_t k = 0; k < cols; ++k)
    if (g_idx[size_t(k)] < 0 || g_idx[size_t(k)] >= n_groups)
      throw_error(SQ_ERR_FORMAT, "GPTQ dequantize: g_idx[", k, "] = ", g_idx[size_t(k)], " is outside [0, ",
                  n_groups, ")");
}

}  // namespace

CheckpointFormat parse_checkpoint_format(const std::string& name) {
  if (name == "gptq") return CheckpointFormat::V1;
  if (name == "gptq_v2") return CheckpointFormat::V2;
  throw_error(SQ_ERR_INVALID_ARGUMENT, "checkpoint_format must be \"gptq\" or \"gptq_v2\"; got \"", name, "\"");
}

const char* checkpoint_format_name(CheckpointFormat format) {
  return format == CheckpointFormat::V1 ? "gptq" : "gptq_v2";
}

void check_bits(int bits) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    throw_error(SQ_ERR_UNSUPPORTED, "GPTQ packing: bits must be 2, 3, 4 or 8; got ", bits);
}

std::vector<int32_t> pack_qweight(const uint8_t* codes, int64_t rows, int64_t cols, int bits) {
  check_bits(bits);
  const int64_t words = words_for(cols, bits, "cols (in_features)");
  std::vector<int32_t> out(size_t(words * rows), 0);
  uint32_t* dst = as_u32(out.data());
  const uint32_t limit = 1u << bits;
  for (int64_t n = 0; n < rows; ++n) {
    const uint8_t* row = codes + n * cols;
    for (int64_t k = 0; k < cols; ++k) {
      if (row[k] >= limit)
        throw_error(SQ_ERR_INVALID_ARGUMENT, "GPTQ packing: code ", int(row[k]), " at row ", n, " col ", k,
                    " does not fit in ", bits, " bits");
      put(dst + n, rows, k, bits, row[k]);
    }
  }
  return out;
}

std::vector<uint8_t> unpack_qweight(const int32_t* qweight, int64_t rows, int64_t cols, int bits) {
  check_bits(bits);
  words_for(cols, bits, "cols (in_features)");
  std::vector<uint8_t> codes(size_t(rows * cols));
  const uint32_t* src = as_u32(qweight);
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) codes[size_t(n * cols + k)] = uint8_t(get(src + n, rows, k, bits));
  return codes;
}

std::vector<int32_t> pack_qzeros(const float* zeros, int64_t n_groups, int64_t rows, int bits,
                                 CheckpointFormat format) {
  check_bits(bits);
  const int64_t words = words_for(rows, bits, "rows (out_features)");
  std::vector<int32_t> out(size_t(n_groups * words), 0);
  const float maxq = float((1 << bits) - 1);
  for (int64_t g = 0; g < n_groups; ++g) {
    uint32_t* dst = as_u32(out.data() + g * words);
    for (int64_t n = 0; n < rows; ++n) {
      const float z = zeros[g * rows + n];
      if (!(z >= 0.0f && z <= maxq) || z != std::floor(z))
        throw_error(SQ_ERR_INVALID_ARGUMENT, "GPTQ packing: zero point ", z, " at group ", g, " row ", n,
                    " is not an integer in [0, ", int(maxq), "]");
      uint32_t stored = uint32_t(z);
      if (format == CheckpointFormat::V1) {
        if (stored == 0)
          throw_error(SQ_ERR_UNSUPPORTED, "GPTQ packing: zero point 0 at group ", g, " row ", n,
                      " cannot be written with checkpoint_format \"gptq\" (it stores z - 1 and readers add 1 back);"
                      " use checkpoint_format \"gptq_v2\"");
        stored -= 1;
      }
      put(dst, 1, n, bits, stored);
    }
  }
  return out;
}

std::vector<int32_t> unpack_qzeros(const int32_t* qzeros, int64_t n_groups, int64_t rows, int bits,
                                   CheckpointFormat format) {
  check_bits(bits);
  const int64_t words = words_for(rows, bits, "rows (out_features)");
  std::vector<int32_t> zeros(size_t(n_groups * rows));
  for (int64_t g = 0; g < n_groups; ++g) {
    const uint32_t* src = as_u32(qzeros + g * words);
    for (int64_t n = 0; n < rows; ++n) {
      const int32_t stored = int32_t(get(src, 1, n, bits));
      zeros[size_t(g * rows + n)] = format == CheckpointFormat::V1 ? stored + 1 : stored;
    }
  }
  return zeros;
}

std::vector<uint16_t> to_fp16(const float* values, int64_t n) {
  std::vector<uint16_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = float_to_half(values[i]);
  return out;
}

std::vector<float> dequantize_gptq(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales_fp16,
                                   const std::vector<int32_t>& g_idx, int64_t rows, int64_t cols, int64_t n_groups,
                                   int bits, CheckpointFormat format) {
  check_groups(g_idx, cols, n_groups);
  const std::vector<uint8_t> codes = unpack_qweight(qweight, rows, cols, bits);
  const std::vector<int32_t> zeros = unpack_qzeros(qzeros, n_groups, rows, bits, format);
  std::vector<float> w(size_t(rows * cols));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      const int64_t g = g_idx.empty() ? 0 : g_idx[size_t(k)];
      const float scale = half_to_float(scales_fp16[g * rows + n]);
      w[size_t(n * cols + k)] = scale * float(int32_t(codes[size_t(n * cols + k)]) - zeros[size_t(g * rows + n)]);
    }
  return w;
}

std::vector<float> dequantize_lut(const int32_t* qweight, const float* lookup_table,
                                  const std::vector<int32_t>& g_idx, int64_t rows, int64_t cols, int bits) {
  int64_t n_groups = 1;
  for (int32_t g : g_idx) n_groups = std::max<int64_t>(n_groups, int64_t(g) + 1);
  check_groups(g_idx, cols, n_groups);
  const std::vector<uint8_t> codes = unpack_qweight(qweight, rows, cols, bits);
  const int64_t levels = int64_t(1) << bits;
  std::vector<float> w(size_t(rows * cols));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      const int64_t g = g_idx.empty() ? 0 : g_idx[size_t(k)];
      w[size_t(n * cols + k)] = lookup_table[(g * rows + n) * levels + codes[size_t(n * cols + k)]];
    }
  return w;
}

}  // namespace gptq
}  // namespace sq
