// GPTQ bit packing (and the SqueezeLLM-style LUT layout built on it), with the inverse of each step.
//
// Bit scheme: a sequence of b-bit values is laid out as one little-endian bit stream, value k at stream
// bits [k*b, k*b + b), least-significant bits first, cut into int32 words. For b in {2, 4, 8} a value never
// crosses a word; for b = 3, 32 values fill 3 words and values 10 and 21 straddle word boundaries (value 10:
// its low 2 bits are bits 30-31 of word 0, its high bit is bit 0 of word 1; value 21: its low bit is bit 31
// of word 1, its high 2 bits are bits 0-1 of word 2).
// - qweight int32 [cols * b / 32, rows]: the stream runs along the input dimension, one stream per output.
// - qzeros int32 [n_groups, rows * b / 32]: the stream runs along the output dimension, one per group.
// Shapes: GPTQ readers require cols * b and rows * b to be multiples of 32; other shapes are refused with
// SQ_ERR_UNSUPPORTED rather than padded, because readers derive in/out features from these shapes and a
// padded tensor would not be the layer they expect.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sq {
namespace gptq {

enum class CheckpointFormat {
  V1,  // "gptq": qzeros hold z - 1 (readers add 1 back); z = 0 cannot be stored and is refused
  V2,  // "gptq_v2": qzeros hold z
};

// "gptq" -> V1, "gptq_v2" -> V2; anything else throws SQ_ERR_INVALID_ARGUMENT naming the value.
CheckpointFormat parse_checkpoint_format(const std::string& name);
const char* checkpoint_format_name(CheckpointFormat format);

// GPTQ bit widths: 2, 3, 4, 8. Throws SQ_ERR_UNSUPPORTED otherwise.
void check_bits(int bits);

// codes [rows, cols] row-major (original column order, each < 2^bits) -> qweight [cols*bits/32, rows].
std::vector<int32_t> pack_qweight(const uint8_t* codes, int64_t rows, int64_t cols, int bits);
// qweight [cols*bits/32, rows] -> codes [rows, cols].
std::vector<uint8_t> unpack_qweight(const int32_t* qweight, int64_t rows, int64_t cols, int bits);

// zeros [n_groups, rows] (integers in [0, 2^bits) stored as float, as in QuantizedLayer) ->
// qzeros [n_groups, rows*bits/32]. Throws SQ_ERR_INVALID_ARGUMENT on a non-integer or out-of-range zero,
// and for V1 on z = 0 (it would be read back as 2^bits by readers that add 1 after masking).
std::vector<int32_t> pack_qzeros(const float* zeros, int64_t n_groups, int64_t rows, int bits,
                                 CheckpointFormat format);
// qzeros -> integer zeros [n_groups, rows] (V1: the stored field + 1).
std::vector<int32_t> unpack_qzeros(const int32_t* qzeros, int64_t n_groups, int64_t rows, int bits,
                                   CheckpointFormat format);

// fp32 -> fp16 bits (round to nearest even), e.g. scales [n_groups, rows] or a lookup table [rows, 2^bits].
std::vector<uint16_t> to_fp16(const float* values, int64_t n);

// W[n, k] = scales[g_idx[k], n] * (q[k, n] - z[g_idx[k], n]) from the packed tensors; returns W [rows, cols].
// g_idx has one group per input column, or is empty for a single group (n_groups must then be 1).
std::vector<float> dequantize_gptq(const int32_t* qweight, const int32_t* qzeros, const uint16_t* scales_fp16,
                                   const std::vector<int32_t>& g_idx, int64_t rows, int64_t cols, int64_t n_groups,
                                   int bits, CheckpointFormat format);

// LUT layout: qweight as above, lookup_table [n_groups * rows, 2^bits] (row r of group g at g * rows + r;
// SqueezeLLM readers expect one group). W[n, k] = lut[g_idx[k] * rows + n][q[k, n]]; g_idx empty: one group.
std::vector<float> dequantize_lut(const int32_t* qweight, const float* lookup_table,
                                  const std::vector<int32_t>& g_idx, int64_t rows, int64_t cols, int bits);

}  // namespace gptq
}  // namespace sq
