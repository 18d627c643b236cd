// Block decoding of each supported GGUF storage type, checked against values built from the documented
// layouts (blocks packed here by a writer independent of the decoder) and a few literal values.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "io/gguf_dequant.hpp"
#include "io/gguf_reader.hpp"
#include "util/error.hpp"

namespace {

constexpr uint16_t kHalf0_25 = 0x3400, kHalf0_5 = 0x3800, kHalfMinus1 = 0xbc00;

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); }

std::vector<float> decode(int32_t type, const std::vector<uint8_t>& bytes, size_t n) {
  std::vector<float> out(n);
  sq::gguf_dequantize(type, bytes.data(), out.data(), n);
  return out;
}

TEST(GgufDequant, PlainFloats) {
  std::vector<uint8_t> f16(4), bf16(4);
  put16(f16, 0, 0x3c00);
  put16(f16, 2, 0xc000);
  put16(bf16, 0, 0x3f80);
  put16(bf16, 2, 0x4040);
  EXPECT_EQ(decode(SQ_DTYPE_F16, f16, 2), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(decode(SQ_DTYPE_BF16, bf16, 2), (std::vector<float>{1.0f, 3.0f}));
  std::vector<uint8_t> f32(8);
  const float v[2] = {0.125f, -7.5f};
  std::memcpy(f32.data(), v, 8);
  EXPECT_EQ(decode(SQ_DTYPE_F32, f32, 2), (std::vector<float>{0.125f, -7.5f}));
}

TEST(GgufDequant, Q4_0) {
  std::vector<uint8_t> b(18);
  put16(b, 0, kHalf0_5);
  for (int j = 0; j < 16; ++j) b[2 + j] = uint8_t(j | ((15 - j) << 4));
  const auto y = decode(SQ_DTYPE_Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * float(j - 8));
    EXPECT_EQ(y[j + 16], 0.5f * float(15 - j - 8));
  }
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[16], 3.5f);
}

TEST(GgufDequant, Q4_1TwoBlocks) {
  std::vector<uint8_t> b(40);
  put16(b, 0, kHalf0_5);
  put16(b, 2, kHalfMinus1);
  for (int j = 0; j < 16; ++j) b[4 + j] = uint8_t(j | ((15 - j) << 4));
  put16(b, 20, kHalf0_25);  // second block: d = 0.25, m = 0.5, every nibble 3
  put16(b, 22, kHalf0_5);
  for (int j = 0; j < 16; ++j) b[24 + j] = 0x33;
  const auto y = decode(SQ_DTYPE_Q4_1, b, 64);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * float(j) - 1.0f);
    EXPECT_EQ(y[j + 16], 0.5f * float(15 - j) - 1.0f);
  }
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[16], 6.5f);
  for (int j = 32; j < 64; ++j) EXPECT_EQ(y[j], 1.25f);
}

TEST(GgufDequant, Q8_0) {
  std::vector<uint8_t> b(34);
  put16(b, 0, kHalf0_25);
  for (int j = 0; j < 32; ++j) b[2 + j] = uint8_t(int8_t(j * 8 - 128));
  const auto y = decode(SQ_DTYPE_Q8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * float(j * 8 - 128));
  EXPECT_EQ(y[0], -32.0f);
  EXPECT_EQ(y[31], 30.0f);
}

// Q4_K: pack eight (scale, min) 6-bit pairs and 256 nibbles as the format describes.
TEST(GgufDequant, Q4_K) {
  std::vector<uint8_t> b(144, 0);
  put16(b, 0, kHalf0_5);   // d
  put16(b, 2, kHalf0_25);  // dmin
  int sc[8], mn[8];
  uint8_t* packed = &b[4];
  for (int s = 0; s < 8; ++s) {
    sc[s] = 10 + 7 * s;
    mn[s] = 63 - 5 * s;
    if (s < 4) {
      packed[s] |= uint8_t(sc[s]);
      packed[s + 4] |= uint8_t(mn[s]);
    } else {
      packed[s + 4] = uint8_t((sc[s] & 0xF) | ((mn[s] & 0xF) << 4));
      packed[s - 4] |= uint8_t((sc[s] >> 4) << 6);
      packed[s] |= uint8_t((mn[s] >> 4) << 6);
    }
  }
  auto q = [](int k) { return (k * 7) % 16; };
  for (int k = 0; k < 256; ++k) {
    const int s = k / 32, l = k % 32;
    b[16 + (s / 2) * 32 + l] |= uint8_t(q(k) << (4 * (s % 2)));
  }
  const auto y = decode(SQ_DTYPE_Q4_K, b, 256);
  for (int k = 0; k < 256; ++k)
    EXPECT_EQ(y[k], 0.5f * float(sc[k / 32]) * float(q(k)) - 0.25f * float(mn[k / 32])) << k;
  EXPECT_EQ(y[0], -15.75f);
  EXPECT_EQ(y[255], 258.5f);
}

// Q6_K: 4 low bits in ql, 2 high bits in qh, int8 scales per 16 elements, offset 32.
TEST(GgufDequant, Q6_K) {
  std::vector<uint8_t> b(210, 0);
  auto q = [](int k) { return (k * 5 + 3) % 64; };
  for (int k = 0; k < 256; ++k) {
    const int half = k / 128, r = (k % 128) / 32, l = k % 32;
    b[half * 64 + l + 32 * (r % 2)] |= uint8_t((q(k) & 0xF) << (4 * (r / 2)));
    b[128 + half * 32 + l] |= uint8_t((q(k) >> 4) << (2 * r));
  }
  for (int i = 0; i < 16; ++i) b[192 + i] = uint8_t(int8_t((i - 8) * 3));
  put16(b, 208, kHalf0_5);
  const auto y = decode(SQ_DTYPE_Q6_K, b, 256);
  for (int k = 0; k < 256; ++k) EXPECT_EQ(y[k], 0.5f * float((k / 16 - 8) * 3) * float(q(k) - 32)) << k;
  EXPECT_EQ(y[0], 348.0f);
  EXPECT_EQ(y[255], 315.0f);
}

TEST(GgufDequant, RefusesPartialBlocks) {
  std::vector<uint8_t> b(40);
  float out[40];
  EXPECT_THROW(sq::gguf_dequantize(SQ_DTYPE_Q4_1, b.data(), out, 33), sq::Error);
  EXPECT_THROW(sq::gguf_dequantize(SQ_DTYPE_I32, b.data(), out, 4), sq::Error);
}

}  // namespace

namespace {

// Random blocks decoded by the `gguf` Python package (tests/scripts/make_gguf_crosscheck.py writes the file).
TEST(GgufDequant, MatchesTheGgufPackage) {
  const char* path = std::getenv("SQ_GGUF_CROSSCHECK");
  if (path == nullptr || *path == 0)
    GTEST_SKIP() << "set SQ_GGUF_CROSSCHECK to a file from tests/scripts/make_gguf_crosscheck.py";
  const sq::GgufFile f(path);
  size_t checked = 0;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    const size_t e = f.find_tensor(t.name + ".expected");
    if (e == SIZE_MAX) continue;
    std::vector<float> got(t.numel()), want(t.numel());
    sq::gguf_dequantize(t.dtype, f.tensor_data(i), got.data(), got.size());
    ASSERT_EQ(f.tensors()[e].nbytes, want.size() * 4);
    std::memcpy(want.data(), f.tensor_data(e), want.size() * 4);
    for (size_t k = 0; k < got.size(); ++k)
      ASSERT_EQ(std::memcmp(&got[k], &want[k], 4), 0) << t.name << " element " << k << ": " << got[k] << " vs " << want[k];
    ++checked;
  }
  EXPECT_EQ(checked, 7u);
}

}  // namespace
