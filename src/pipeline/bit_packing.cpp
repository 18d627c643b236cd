#include "pipeline/bit_packing.hpp"

#include "util/error.hpp"

namespace sq {
namespace {

void check_bits(int bits) {
  if (bits < 1 || bits > 8) throw_error(SQ_ERR_INVALID_ARGUMENT, "bit packing: bits must be in [1, 8], got ", bits);
}

// Write field `index` (b bits) of a stream laid over 32-bit words at words[word * stride].
inline void put_field(uint32_t* words, int64_t stride, uint64_t index, int bits, uint32_t value) {
  const uint64_t bit = index * uint64_t(bits);
  const uint64_t w = bit / 32, off = bit % 32;
  words[w * uint64_t(stride)] |= value << off;
  if (off + uint64_t(bits) > 32) words[(w + 1) * uint64_t(stride)] |= value >> (32 - off);
}

inline uint32_t get_field(const uint32_t* words, int64_t stride, uint64_t index, int bits) {
  const uint64_t bit = index * uint64_t(bits);
  const uint64_t w = bit / 32, off = bit % 32;
  uint64_t v = words[w * uint64_t(stride)] >> off;
  if (off + uint64_t(bits) > 32) v |= uint64_t(words[(w + 1) * uint64_t(stride)]) << (32 - off);
  return uint32_t(v) & ((1u << bits) - 1u);
}

int64_t words_for(int64_t n, int bits, const char* what) {
  if ((n * bits) % 32 != 0)
    throw_error(SQ_ERR_UNSUPPORTED, "GPTQ packing: ", what, " ", n, " times ", bits,
                " bits is not a multiple of 32 bits");
  return n * bits / 32;
}

}  // namespace

std::vector<int32_t> pack_qweight(const uint8_t* codes, int64_t rows, int64_t cols, int bits) {
  check_bits(bits);
  const int64_t nwords = words_for(cols, bits, "in_features");
  std::vector<uint32_t> words(size_t(nwords * rows), 0u);
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) put_field(words.data() + n, rows, uint64_t(k), bits, codes[n * cols + k] & mask);
  return std::vector<int32_t>(words.begin(), words.end());
}

std::vector<uint8_t> unpack_qweight(const int32_t* qweight, int64_t rows, int64_t cols, int bits) {
  check_bits(bits);
  words_for(cols, bits, "in_features");
  const auto* words = reinterpret_cast<const uint32_t*>(qweight);
  std::vector<uint8_t> codes(size_t(rows * cols));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) codes[size_t(n * cols + k)] = uint8_t(get_field(words + n, rows, uint64_t(k), bits));
  return codes;
}

std::vector<int32_t> pack_qzeros(const uint32_t* values, int64_t n_groups, int64_t rows, int bits) {
  check_bits(bits);
  const int64_t nwords = words_for(rows, bits, "out_features");
  std::vector<uint32_t> words(size_t(n_groups * nwords), 0u);
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t g = 0; g < n_groups; ++g)
    for (int64_t n = 0; n < rows; ++n) put_field(words.data() + g * nwords, 1, uint64_t(n), bits, values[g * rows + n] & mask);
  return std::vector<int32_t>(words.begin(), words.end());
}

std::vector<uint32_t> unpack_qzeros(const int32_t* qzeros, int64_t n_groups, int64_t rows, int bits) {
  check_bits(bits);
  const int64_t nwords = words_for(rows, bits, "out_features");
  const auto* words = reinterpret_cast<const uint32_t*>(qzeros);
  std::vector<uint32_t> out(size_t(n_groups * rows));
  for (int64_t g = 0; g < n_groups; ++g)
    for (int64_t n = 0; n < rows; ++n) out[size_t(g * rows + n)] = get_field(words + g * nwords, 1, uint64_t(n), bits);
  return out;
}

std::vector<uint8_t> pack_bitstream(const uint8_t* values, size_t n, int bits) {
  check_bits(bits);
  std::vector<uint8_t> out((n * size_t(bits) + 7) / 8, 0);
  const uint32_t mask = (1u << bits) - 1u;
  for (size_t i = 0; i < n; ++i) {
    const size_t bit = i * size_t(bits);
    const uint32_t v = (values[i] & mask) << (bit % 8);
    out[bit / 8] |= uint8_t(v);
    if ((bit % 8) + size_t(bits) > 8) out[bit / 8 + 1] |= uint8_t(v >> 8);
  }
  return out;
}

std::vector<uint8_t> unpack_bitstream(const uint8_t* bytes, size_t nbytes, size_t n, int bits) {
  check_bits(bits);
  if (nbytes < (n * size_t(bits) + 7) / 8)
    throw_error(SQ_ERR_FORMAT, "bit stream of ", nbytes, " bytes is too short for ", n, " values of ", bits, " bits");
  std::vector<uint8_t> out(n);
  const uint32_t mask = (1u << bits) - 1u;
  for (size_t i = 0; i < n; ++i) {
    const size_t bit = i * size_t(bits);
    uint32_t v = bytes[bit / 8] >> (bit % 8);
    if ((bit % 8) + size_t(bits) > 8) v |= uint32_t(bytes[bit / 8 + 1]) << (8 - bit % 8);
    out[i] = uint8_t(v & mask);
  }
  return out;
}

size_t bitstream_columns_bytes(int64_t rows, int64_t cols, const uint8_t* widths) {
  size_t row_bits = 0;
  for (int64_t k = 0; k < cols; ++k) {
    check_bits(widths[k]);
    row_bits += widths[k];
  }
  return (size_t(rows) * row_bits + 7) / 8;
}

std::vector<uint8_t> pack_bitstream_columns(const uint8_t* codes, int64_t rows, int64_t cols, const uint8_t* widths) {
  std::vector<uint8_t> out(bitstream_columns_bytes(rows, cols, widths), 0);
  size_t bit = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) {
      const int b = widths[k];
      const uint32_t v = (codes[r * cols + k] & ((1u << b) - 1u)) << (bit % 8);
      out[bit / 8] |= uint8_t(v);
      if ((bit % 8) + size_t(b) > 8) out[bit / 8 + 1] |= uint8_t(v >> 8);
      bit += size_t(b);
    }
  return out;
}

std::vector<uint8_t> unpack_bitstream_columns(const uint8_t* bytes, size_t nbytes, int64_t rows, int64_t cols,
                                              const uint8_t* widths) {
  const size_t need = bitstream_columns_bytes(rows, cols, widths);
  if (nbytes < need)
    throw_error(SQ_ERR_FORMAT, "bit stream of ", nbytes, " bytes is too short for ", rows, " rows of ", cols,
                " per-column-width values (", need, " bytes)");
  std::vector<uint8_t> out(size_t(rows * cols));
  size_t bit = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) {
      const int b = widths[k];
      uint32_t v = bytes[bit / 8] >> (bit % 8);
      if ((bit % 8) + size_t(b) > 8) v |= uint32_t(bytes[bit / 8 + 1]) << (8 - bit % 8);
      out[size_t(r * cols + k)] = uint8_t(v & ((1u << b) - 1u));
      bit += size_t(b);
    }
  return out;
}

}  // namespace sq
