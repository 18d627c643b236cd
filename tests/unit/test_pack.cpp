#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "quant/pack.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace {

using sq::gptq::CheckpointFormat;

std::vector<uint8_t> random_codes(std::mt19937& rng, int64_t n, int bits) {
  std::uniform_int_distribution<int> d(0, (1 << bits) - 1);
  std::vector<uint8_t> c(static_cast<size_t>(n));
  for (auto& v : c) v = uint8_t(d(rng));
  return c;
}

int32_t word(uint32_t u) { return int32_t(u); }

TEST(GptqPack, QweightRoundTripsForAllWidths) {
  std::mt19937 rng(3);
  for (int bits : {2, 3, 4, 8}) {
    for (int64_t rows : {32, 96}) {
      const int64_t cols = 128;
      const std::vector<uint8_t> codes = random_codes(rng, rows * cols, bits);
      const std::vector<int32_t> q = sq::gptq::pack_qweight(codes.data(), rows, cols, bits);
      ASSERT_EQ(int64_t(q.size()), cols * bits / 32 * rows) << "bits " << bits;
      EXPECT_EQ(sq::gptq::unpack_qweight(q.data(), rows, cols, bits), codes) << "bits " << bits;
    }
  }
}

// Input k of output n is in word k / (32/b) of column n at bit (k mod 32/b) * b.
TEST(GptqPack, FourAndTwoBitWordLayout) {
  const int64_t rows = 8, cols = 32;
  std::vector<uint8_t> codes(size_t(rows * cols), 0);
  for (int64_t k = 0; k < 8; ++k) codes[size_t(1 * cols + k)] = uint8_t(k);  // output 1, inputs 0..7
  codes[size_t(1 * cols + 8)] = 0xF;                                          // input 8 opens word 1
  std::vector<int32_t> q = sq::gptq::pack_qweight(codes.data(), rows, cols, 4);
  EXPECT_EQ(q[0 * rows + 1], word(0x76543210u));
  EXPECT_EQ(q[1 * rows + 1], word(0x0000000Fu));
  EXPECT_EQ(q[0 * rows + 0], 0);

  std::vector<uint8_t> two(size_t(rows * cols), 0);
  two[size_t(0 * cols + 15)] = 3;  // last value of word 0: bits 30-31
  two[size_t(0 * cols + 16)] = 2;  // first value of word 1: bits 0-1
  q = sq::gptq::pack_qweight(two.data(), rows, cols, 2);
  EXPECT_EQ(q[0 * rows + 0], word(0xC0000000u));
  EXPECT_EQ(q[1 * rows + 0], word(0x00000002u));
}

// 3 bits: 32 inputs in 3 words; value 10 spans words 0/1 and value 21 words 1/2.
TEST(GptqPack, ThreeBitStraddlingWords) {
  const int64_t rows = 32, cols = 32;
  std::vector<uint8_t> codes(size_t(rows * cols), 0);
  uint8_t* row0 = codes.data();
  row0[10] = 5;  // 0b101: low bits 01 -> word0 bits 30-31, high bit 1 -> word1 bit 0
  row0[21] = 7;  // 0b111: low bit 1 -> word1 bit 31, high bits 11 -> word2 bits 0-1
  row0[0] = 3;   // word0 bits 0-2
  row0[11] = 6;  // word1 bits 1-3 (value 11 starts at stream bit 33)
  row0[31] = 4;  // word2 bits 29-31
  const std::vector<int32_t> q = sq::gptq::pack_qweight(codes.data(), rows, cols, 3);
  ASSERT_EQ(q.size(), size_t(3 * rows));
  EXPECT_EQ(q[0 * rows], word((1u << 30) | 3u));
  EXPECT_EQ(q[1 * rows], word((1u << 31) | (6u << 1) | 1u));
  EXPECT_EQ(q[2 * rows], word((4u << 29) | 3u));
  for (int64_t n = 1; n < rows; ++n) EXPECT_EQ(q[size_t(n)], 0);
  EXPECT_EQ(sq::gptq::unpack_qweight(q.data(), rows, cols, 3), codes);
}

TEST(GptqPack, QzerosV1AndV2) {
  const int64_t rows = 64, groups = 3;
  // Symmetric 4-bit: z = 8 everywhere; v1 stores 7 in every nibble.
  std::vector<float> sym(size_t(rows * groups), 8.0f);
  std::vector<int32_t> v1 = sq::gptq::pack_qzeros(sym.data(), groups, rows, 4, CheckpointFormat::V1);
  ASSERT_EQ(v1.size(), size_t(groups * rows * 4 / 32));
  for (int32_t w : v1) EXPECT_EQ(w, word(0x77777777u));
  std::vector<int32_t> v2 = sq::gptq::pack_qzeros(sym.data(), groups, rows, 4, CheckpointFormat::V2);
  for (int32_t w : v2) EXPECT_EQ(w, word(0x88888888u));

  std::mt19937 rng(5);
  for (int bits : {2, 3, 4, 8}) {
    std::uniform_int_distribution<int> d(1, (1 << bits) - 1);  // v1 cannot hold z = 0
    std::vector<float> zeros(size_t(rows * groups));
    std::vector<int32_t> expect(zeros.size());
    for (size_t i = 0; i < zeros.size(); ++i) expect[i] = d(rng), zeros[i] = float(expect[i]);
    for (auto format : {CheckpointFormat::V1, CheckpointFormat::V2}) {
      const auto packed = sq::gptq::pack_qzeros(zeros.data(), groups, rows, bits, format);
      EXPECT_EQ(packed.size(), size_t(groups * rows * bits / 32));
      EXPECT_EQ(sq::gptq::unpack_qzeros(packed.data(), groups, rows, bits, format), expect) << bits;
    }
    // The two formats differ by exactly one in every field.
    const auto p1 = sq::gptq::pack_qzeros(zeros.data(), groups, rows, bits, CheckpointFormat::V1);
    const auto as_v2 = sq::gptq::unpack_qzeros(p1.data(), groups, rows, bits, CheckpointFormat::V2);
    for (size_t i = 0; i < expect.size(); ++i) ASSERT_EQ(as_v2[i], expect[i] - 1);
  }
  // z = 0 is fine in v2 and refused in v1.
  std::vector<float> with_zero(size_t(rows), 3.0f);
  with_zero[17] = 0.0f;
  const auto p = sq::gptq::pack_qzeros(with_zero.data(), 1, rows, 4, CheckpointFormat::V2);
  EXPECT_EQ(sq::gptq::unpack_qzeros(p.data(), 1, rows, 4, CheckpointFormat::V2)[17], 0);
  try {
    sq::gptq::pack_qzeros(with_zero.data(), 1, rows, 4, CheckpointFormat::V1);
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 17"), std::string::npos) << e.what();
  }
}

TEST(GptqPack, RefusesBadShapesCodesAndZeros) {
  std::vector<uint8_t> codes(32 * 20, 0);
  try {
    sq::gptq::pack_qweight(codes.data(), 32, 20, 4);  // 20 * 4 = 80 bits
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_UNSUPPORTED);
  }
  EXPECT_THROW(sq::gptq::pack_qweight(codes.data(), 20, 32, 5), sq::Error);  // 5 bits
  codes[3] = 16;
  EXPECT_THROW(sq::gptq::pack_qweight(codes.data(), 20, 32, 4), sq::Error);  // code too large
  std::vector<float> zeros(8, 2.5f);
  EXPECT_THROW(sq::gptq::pack_qzeros(zeros.data(), 1, 8, 4, CheckpointFormat::V2), sq::Error);
  EXPECT_THROW(sq::gptq::pack_qzeros(zeros.data(), 1, 12, 3, CheckpointFormat::V2), sq::Error);  // 36 bits
  EXPECT_EQ(sq::gptq::parse_checkpoint_format("gptq"), CheckpointFormat::V1);
  EXPECT_EQ(sq::gptq::parse_checkpoint_format("gptq_v2"), CheckpointFormat::V2);
  EXPECT_THROW(sq::gptq::parse_checkpoint_format("GPTQ"), sq::Error);
}

// Q computed the way the quantizer does (fp16-representable scale times an integer difference) must come
// back bit-identical from the packed tensors, with grouped and act-order (non-monotonic) g_idx.
TEST(GptqPack, DequantizeOfPackedEqualsQuantizedExactly) {
  std::mt19937 rng(11);
  for (int bits : {2, 3, 4, 8}) {
    for (auto format : {CheckpointFormat::V1, CheckpointFormat::V2}) {
      const int64_t rows = 64, cols = 256, group = 64, groups = cols / group;
      const std::vector<uint8_t> codes = random_codes(rng, rows * cols, bits);
      std::uniform_real_distribution<float> us(1e-4f, 0.05f);
      std::uniform_int_distribution<int> uz(1, (1 << bits) - 1);
      std::vector<float> scales(size_t(groups * rows)), zeros(scales.size());
      for (size_t i = 0; i < scales.size(); ++i) {
        scales[i] = sq::half_to_float(sq::float_to_half(us(rng)));
        zeros[i] = float(uz(rng));
      }
      std::vector<int32_t> perm(static_cast<size_t>(cols));
      for (int64_t k = 0; k < cols; ++k) perm[size_t(k)] = int32_t(k);
      std::shuffle(perm.begin(), perm.end(), rng);
      std::vector<int32_t> g_idx(static_cast<size_t>(cols));
      for (int64_t i = 0; i < cols; ++i) g_idx[size_t(perm[size_t(i)])] = int32_t(i / group);  // act-order groups
      std::vector<float> expect(size_t(rows * cols));
      for (int64_t n = 0; n < rows; ++n)
        for (int64_t k = 0; k < cols; ++k) {
          const size_t gi = size_t(g_idx[size_t(k)] * rows + n);
          expect[size_t(n * cols + k)] = scales[gi] * (float(codes[size_t(n * cols + k)]) - zeros[gi]);
        }
      const auto qweight = sq::gptq::pack_qweight(codes.data(), rows, cols, bits);
      const auto qzeros = sq::gptq::pack_qzeros(zeros.data(), groups, rows, bits, format);
      const auto s16 = sq::gptq::to_fp16(scales.data(), int64_t(scales.size()));
      const auto w = sq::gptq::dequantize_gptq(qweight.data(), qzeros.data(), s16.data(), g_idx, rows, cols, groups,
                                               bits, format);
      ASSERT_EQ(w.size(), expect.size());
      EXPECT_EQ(std::memcmp(w.data(), expect.data(), w.size() * sizeof(float)), 0) << bits;
    }
  }
}

TEST(GptqPack, LutDequantizeReadsTheRowTable) {
  std::mt19937 rng(13);
  for (int bits : {2, 3, 4}) {
    const int64_t rows = 32, cols = 64, levels = int64_t(1) << bits;
    const std::vector<uint8_t> codes = random_codes(rng, rows * cols, bits);
    std::vector<float> lut(size_t(rows * levels));
    std::normal_distribution<float> nd;
    for (float& v : lut) v = nd(rng);
    const auto qweight = sq::gptq::pack_qweight(codes.data(), rows, cols, bits);
    const auto w = sq::gptq::dequantize_lut(qweight.data(), lut.data(), {}, rows, cols, bits);
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t k = 0; k < cols; ++k)
        ASSERT_EQ(w[size_t(n * cols + k)], lut[size_t(n * levels + codes[size_t(n * cols + k)])]);
    // fp16 lookup tables convert back to the fp16-rounded levels.
    const auto lut16 = sq::gptq::to_fp16(lut.data(), int64_t(lut.size()));
    for (size_t i = 0; i < lut.size(); ++i)
      EXPECT_EQ(sq::half_to_float(lut16[i]), sq::half_to_float(sq::float_to_half(lut[i])));
  }
}

}  // namespace
