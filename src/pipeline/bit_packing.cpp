#include "pipeline/bit_packing.hpp"

#include "util/error.hpp"

namespace sq {
namespace {

void check_bits(int bits) {
  if (bits < 1 || bits > 8) throw_error(SQ_ERR_INVALID_ARGUMENT, "bit packing: bits must be in [1, 8], got ", bits);
}

}  // namespace

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
