#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "pipeline/bit_packing.hpp"
#include "pipeline/layer_codec.hpp"
#include "util/error.hpp"

namespace {

std::vector<uint8_t> random_codes(size_t n, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& c : v) c = uint8_t(rng() & ((1u << bits) - 1u));
  return v;
}

// An affine layer whose dequant was computed in a different (but common) order, so some elements need
// the exact-fix payload to round-trip bit-identically.
sq::QuantizedLayer affine_layer(int bits, int64_t rows, int64_t cols, int64_t group, bool act_order) {
  sq::QuantizedLayer l;
  l.rows = rows;
  l.cols = cols;
  l.bits = bits;
  l.group_size = group;
  l.n_groups = group > 0 ? cols / group : 1;
  l.codes = random_codes(size_t(rows * cols), bits, 11);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.001f, 0.1f);
  for (int64_t i = 0; i < l.n_groups * rows; ++i) {
    l.scales.push_back(u(rng));
    l.zeros.push_back(float(rng() % (1u << bits)));
  }
  if (act_order) {
    for (int64_t k = 0; k < cols; ++k) l.g_idx.push_back(int32_t((k * 7) % cols / (group > 0 ? group : cols)));
    for (int64_t k = 0; k < cols; ++k) l.perm.push_back(int32_t(cols - 1 - k));
  }
  l.dequant.resize(size_t(rows * cols));
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      const size_t p = size_t(sq::group_of_column(l, k) * rows + n);
      l.dequant[size_t(n * cols + k)] = float(l.codes[size_t(n * cols + k)]) * l.scales[p] - l.zeros[p] * l.scales[p];
    }
  l.method = "test";
  return l;
}

sq::QuantizedLayer round_trip(const sq::QuantizedLayer& l) {
  const auto enc = sq::encode_layer(l);
  std::map<std::string, std::vector<uint8_t>> store;
  for (const auto& p : enc.payloads) store[p.part] = p.frame;
  return sq::decode_layer(enc.scheme, [&](const std::string& part) {
    const auto& v = store.at(part);
    return std::make_pair(v.data(), v.size());
  }, "layer");
}

}  // namespace

TEST(BitPacking, DenseStreamRoundTrips) {
  for (int bits : {1, 2, 3, 4, 5, 8}) {
    const auto c = random_codes(64 * 6 + 3, bits, uint32_t(bits));  // not a whole number of bytes
    const auto packed = sq::pack_bitstream(c.data(), c.size(), bits);
    EXPECT_EQ(packed.size(), (c.size() * size_t(bits) + 7) / 8);
    EXPECT_EQ(sq::unpack_bitstream(packed.data(), packed.size(), c.size(), bits), c) << bits;
  }
}

TEST(LayerCodec, AffineRoundTripIsBitIdentical) {
  for (bool act_order : {false, true}) {
    const auto l = affine_layer(3, 16, 64, 32, act_order);
    const auto back = round_trip(l);
    ASSERT_EQ(back.dequant.size(), l.dequant.size());
    EXPECT_EQ(std::memcmp(back.dequant.data(), l.dequant.data(), l.dequant.size() * 4), 0);
    EXPECT_EQ(back.codes, l.codes);
    EXPECT_EQ(back.g_idx, l.g_idx);
    EXPECT_EQ(back.perm, l.perm);
    EXPECT_EQ(back.scales, l.scales);
    EXPECT_EQ(back.bits, 3);
    EXPECT_EQ(back.n_groups, 2);
  }
}

TEST(LayerCodec, LutRoundTripAndCorruptFrameIsAFormatError) {
  sq::QuantizedLayer l;
  l.rows = 4;
  l.cols = 8;
  l.bits = 2;
  l.grid = sq::GridKind::Lut;
  l.codes = random_codes(32, 2, 1);
  for (int i = 0; i < 16; ++i) l.lut.push_back(0.25f * float(i) - 1.0f);
  l.dequant = sq::decode_weights(l);
  const auto back = round_trip(l);
  EXPECT_EQ(back.dequant, l.dequant);
  EXPECT_EQ(back.lut, l.lut);

  const auto enc = sq::encode_layer(l);
  std::vector<uint8_t> junk(enc.payloads[0].frame.size(), 0xAB);
  try {
    sq::decode_layer(enc.scheme, [&](const std::string&) { return std::make_pair(junk.data(), junk.size()); }, "L");
    FAIL() << "expected a format error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_FORMAT);
  }
}
