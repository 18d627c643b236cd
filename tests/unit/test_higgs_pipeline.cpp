// HIGGS end to end at the layer level: the bits -> grid mapping, the preset compositions (data-free and
// inside the GPTQ sweep on the rotated layer), the sq codec round trip of Gaussian + rotation layers, and the
// job options that carry them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pipeline/job_options.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/quantize_call.hpp"
#include "correlated_hessian.hpp"
#include "quant/gaussian_grids.hpp"
#include "quant/higgs_layer.hpp"
#include "quant/layer_quantizer.hpp"
#include "util/error.hpp"

namespace {

struct Layer {
  int64_t rows, cols;
  std::vector<float> w, h;
};

// H = X^T X / N with X = Z A D: correlated inputs (A mixes columns) of uneven scale (D); W ~ N(0, 0.02^2).
Layer correlated_layer(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Layer l{rows, cols, std::vector<float>(size_t(rows * cols)), correlated_hessian(cols, 1.0f, rng, normal)};
  for (auto& v : l.w) v = 0.02f * normal(rng);
  return l;
}

sq::QuantizeOptions higgs_opts(const std::string& method, int bits, int64_t group, int64_t hadamard) {
  sq::QuantizeOptions o;
  o.method = method;
  o.bits = bits;
  o.group_size = group;
  o.hadamard_size = hadamard;
  return o;
}

sq::QuantizedLayer run(const Layer& l, const sq::QuantizeOptions& o) {
  return sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger());
}

// Encode, then decode from the encoded payloads, as a reader of the sq container does.
sq::QuantizedLayer round_trip(const sq::QuantizedLayer& q, nlohmann::json* scheme_out = nullptr) {
  const sq::EncodedLayer enc = sq::encode_layer(q);
  std::map<std::string, std::vector<uint8_t>> parts;
  for (const auto& p : enc.payloads) parts[p.part] = p.frame;
  const auto fetch = [&](const std::string& part) {
    const auto& v = parts.at(part);
    return std::make_pair(v.data(), v.size());
  };
  // Through text, as the scheme is stored in __metadata__.
  const nlohmann::json scheme = nlohmann::json::parse(enc.scheme.dump());
  if (scheme_out) *scheme_out = scheme;
  return sq::decode_layer(scheme, fetch, "test layer");
}

void expect_bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  size_t differing = 0;
  for (size_t i = 0; i < a.size(); ++i) differing += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  EXPECT_EQ(differing, 0u);
}

TEST(HiggsPipeline, BitsNameTheGrid) {
  const std::pair<int, int> p2[] = {{2, 16}, {3, 64}, {4, 256}};
  for (const auto& [bits, n] : p2) {
    const sq::GaussianGridId id = sq::higgs_grid_for_bits(bits, 2);
    EXPECT_EQ(id.p, 2);
    EXPECT_EQ(id.n, n);
    EXPECT_DOUBLE_EQ(sq::gaussian_grid(id.p, id.n).bits_per_weight(), double(bits));
  }
  const std::pair<int, int> p1[] = {{2, 4}, {3, 8}, {4, 16}, {8, 256}};
  for (const auto& [bits, n] : p1) {
    const sq::GaussianGridId id = sq::higgs_grid_for_bits(bits, 1);
    EXPECT_EQ(id.p, 1);
    EXPECT_EQ(id.n, n);
  }
  EXPECT_THROW(sq::higgs_grid_for_bits(8, 2), sq::Error);  // 65536 points: not a uint8 code
  EXPECT_THROW(sq::higgs_grid_for_bits(4, 3), sq::Error);
  EXPECT_DOUBLE_EQ(sq::higgs_bits_per_weight({2, 256}, 256), 4.0625);
  EXPECT_DOUBLE_EQ(sq::higgs_bits_per_weight({2, 64}, 128), 3.125);
}

TEST(HiggsPipeline, DataFreeMethods) {
  sq::QuantizeOptions o;
  o.method = "rtn";
  EXPECT_TRUE(sq::method_is_data_free(o));
  o.act_order = true;  // act-order sorts by the Hessian diagonal
  EXPECT_FALSE(sq::method_is_data_free(o));
  o = {};
  o.method = "higgs";
  EXPECT_TRUE(sq::method_is_data_free(o));
  o.method = "higgs-gptq";
  EXPECT_FALSE(sq::method_is_data_free(o));
  o.method = "gptq";
  EXPECT_FALSE(sq::method_is_data_free(o));
  o.method = "leanquant";
  EXPECT_FALSE(sq::method_is_data_free(o));

  sq::JobOptions j;
  j.set("method", "higgs");
  EXPECT_FALSE(sq::needs_calibration(j));
  j.set("method", "rtn");
  EXPECT_FALSE(sq::needs_calibration(j));
  j.set("method", "higgs-gptq");
  EXPECT_TRUE(sq::needs_calibration(j));
}

// Data-free HIGGS on a layer whose columns are not a multiple of the Hadamard size, randomized signs,
// both grid dimensions: the layer stores its rotation, and the sq codec gives back the quantizer's
// weights bit for bit from codes, scales and rotation alone (no exact-fix entries needed).
TEST(HiggsPipeline, CodecRoundTripIsBitIdentical) {
  const Layer l = correlated_layer(24, 200, 3);  // 200 columns: padded to 256 with h = 64
  for (int p : {1, 2})
    for (bool signs : {false, true}) {
      sq::QuantizeOptions o = higgs_opts("higgs", 3, 32, 64);
      o.grid_dim = p;
      o.random_signs = signs;
      o.rotation_seed = 12345678901234ull;
      const sq::QuantizedLayer q = run(l, o);
      EXPECT_EQ(q.grid, sq::GridKind::Gaussian);
      EXPECT_EQ(q.grid_dim, p);
      EXPECT_EQ(q.grid_points, p == 2 ? 64 : 8);
      EXPECT_EQ(q.bits, p == 2 ? 6 : 3);
      EXPECT_EQ(q.rotation.size, 64);
      EXPECT_EQ(q.rotation.cols_padded, 256);
      EXPECT_EQ(q.rotation.random_signs, signs);
      EXPECT_EQ(q.n_groups, 256 / 32);
      EXPECT_EQ(q.codes.size(), size_t(24 * 256 / p));
      ASSERT_EQ(q.dequant.size(), size_t(24 * 200));
      // Scales are stored as fp16 values (the bits per weight count 16 bits per scale).
      for (float s : q.scales) EXPECT_EQ(s, sq::stored_scale(s, sq::ScaleStorage::F16));
      // The layer's own decode formula gives its dequantized weights exactly.
      expect_bit_identical(sq::gaussian_layer_weights(q), q.dequant);

      nlohmann::json scheme;
      const sq::QuantizedLayer d = round_trip(q, &scheme);
      EXPECT_EQ(scheme.at("grid"), "gaussian");
      EXPECT_EQ(scheme.at("transform"), "hadamard");
      EXPECT_EQ(scheme.at("rotation").at("seed").get<uint64_t>(), 12345678901234ull);
      EXPECT_FALSE(scheme.at("payloads").contains("fix_idx"));
      EXPECT_EQ(d.grid, sq::GridKind::Gaussian);
      EXPECT_EQ(d.codes, q.codes);
      EXPECT_EQ(d.scales, q.scales);
      EXPECT_EQ(d.rotation.seed, q.rotation.seed);
      EXPECT_EQ(d.rotation.cols_padded, q.rotation.cols_padded);
      expect_bit_identical(d.dequant, q.dequant);
    }
}

TEST(HiggsPipeline, GptqLayerRoundTripsAndUsesRotatedBasis) {
  const Layer l = correlated_layer(16, 192, 4);
  sq::QuantizeOptions o = higgs_opts("higgs-gptq", 4, -1, 64);
  o.random_signs = true;
  o.rotation_seed = 7;
  const sq::QuantizedLayer q = run(l, o);
  EXPECT_EQ(q.grid, sq::GridKind::Gaussian);
  EXPECT_EQ(q.grid_dim, 1);
  EXPECT_EQ(q.grid_points, 16);
  EXPECT_EQ(q.group_size, 64);  // -1: one scale per Hadamard block
  EXPECT_EQ(q.n_groups, 3);
  EXPECT_TRUE(q.g_idx.empty());
  expect_bit_identical(sq::gaussian_layer_weights(q), q.dequant);
  nlohmann::json scheme;
  const sq::QuantizedLayer d = round_trip(q, &scheme);
  EXPECT_FALSE(scheme.at("payloads").contains("fix_idx"));
  expect_bit_identical(d.dequant, q.dequant);
  EXPECT_GT(q.damp_used, 0.0);
}

// The point of HIGGS + GPTQ: on a correlated Hessian, the sweep's error feedback lowers the layer objective
// tr((W - Q) H (W - Q)^T) below data-free HIGGS with the same grid.
TEST(HiggsPipeline, GptqBeatsDataFreeOnCorrelatedHessian) {
  const Layer l = correlated_layer(64, 256, 5);
  const sq::QuantizedLayer rtn_p1 = run(l, [] {
    auto o = higgs_opts("higgs", 3, 64, 128);
    o.grid_dim = 1;
    return o;
  }());
  const sq::QuantizedLayer rtn_p2 = run(l, higgs_opts("higgs", 3, 64, 128));
  const sq::QuantizedLayer gptq = run(l, higgs_opts("higgs-gptq", 3, 64, 128));
  std::printf("3-bit layer objective (64 x 256, correlated H): higgs p=1 %.6g, higgs p=2 %.6g, higgs-gptq %.6g\n",
              rtn_p1.objective, rtn_p2.objective, gptq.objective);
  EXPECT_GT(gptq.objective, 0.0);
  EXPECT_LE(gptq.objective, rtn_p1.objective);
  EXPECT_LE(gptq.objective, rtn_p2.objective);
  // Data-free HIGGS does not look at H: the same layer comes out whatever H is.
  Layer other = l;
  for (auto& v : other.h) v *= 3.0f;
  const sq::QuantizedLayer again = run(other, higgs_opts("higgs", 3, 64, 128));
  EXPECT_EQ(again.codes, rtn_p2.codes);
}

// Relative MSE of data-free HIGGS on Gaussian weights is about the grid's MSE on N(0, 1), as the linearity
// theorem's t_l assumes (padding-free layer, one scale per block).
TEST(HiggsPipeline, DataFreeErrorMatchesGridMse) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  Layer l{32, 512, std::vector<float>(32 * 512), {}};
  for (auto& v : l.w) v = normal(rng);
  for (int bits : {2, 3, 4}) {
    sq::QuantizeOptions o = higgs_opts("higgs", bits, -1, 256);
    o.compute_objective = true;
    const sq::QuantizedLayer q = sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, nullptr, o,
                                                    sq::null_logger());
    double ref = 0;
    for (float v : l.w) ref += double(v) * v;
    const double rel = q.objective / ref, grid_mse = sq::gaussian_grid(2, 1 << (2 * bits)).mse;
    std::printf("higgs %d-bit p=2: relative MSE %.5f, grid MSE %.5f\n", bits, rel, grid_mse);
    EXPECT_NEAR(rel, grid_mse, 0.15 * grid_mse);
  }
}

TEST(HiggsPipeline, OptionsAreValidated) {
  const Layer l = correlated_layer(4, 64, 6);
  auto fails = [&](sq::QuantizeOptions o) { EXPECT_THROW(run(l, o), sq::Error) << o.method; };
  sq::QuantizeOptions o = higgs_opts("higgs", 4, 128, 64);  // group larger than the Hadamard block
  fails(o);
  o = higgs_opts("higgs", 4, 48, 64);  // does not divide it
  fails(o);
  o = higgs_opts("higgs", 4, 32, 48);  // not a power of two
  fails(o);
  o = higgs_opts("higgs", 8, 32, 64);  // p = 2 has no 8-bit grid
  fails(o);
  o = higgs_opts("higgs-gptq", 4, 32, 64);
  o.grid_dim = 2;
  fails(o);
  o = higgs_opts("higgs", 4, 32, 64);
  o.act_order = true;
  fails(o);
  o = higgs_opts("higgs-gptq", 4, 32, 64);
  EXPECT_THROW(sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, nullptr, o, sq::null_logger()),
               sq::Error);  // needs H

  sq::QuantizeOptions s;
  sq::set_option(s, "method", "higgs-gptq");
  sq::set_option(s, "hadamard_size", "256");
  sq::set_option(s, "grid_dim", "1");
  sq::set_option(s, "random_signs", "true");
  sq::set_option(s, "rotation_seed", "42");
  EXPECT_EQ(s.method, "higgs-gptq");
  EXPECT_EQ(s.hadamard_size, 256);
  EXPECT_EQ(s.grid_dim, 1);
  EXPECT_TRUE(s.random_signs);
  EXPECT_EQ(s.rotation_seed, 42u);
  EXPECT_THROW(sq::set_option(s, "grid_dim", "3"), sq::Error);
  EXPECT_THROW(sq::set_option(s, "rotation_seed", "-1"), sq::Error);
}

TEST(HiggsPipeline, JobOptionsCarryHiggsKeys) {
  sq::JobOptions a, b;
  a.set("method", "higgs");
  a.set("hadamard_size", "256");
  a.set("grid_dim", "1");
  a.set("random_signs", "1");
  a.set("rotation_seed", "5");
  EXPECT_EQ(a.method, "higgs");
  EXPECT_EQ(a.hadamard_size, 256);
  EXPECT_EQ(a.grid_dim, 1);
  EXPECT_TRUE(a.random_signs);
  EXPECT_EQ(a.rotation_seed, 5u);
  b = a;
  EXPECT_EQ(a.canonical(), b.canonical());
  b.set("rotation_seed", "6");
  EXPECT_NE(a.canonical(), b.canonical());  // a resume with other signs must not match
  b = a;
  b.set("hadamard_size", "512");
  EXPECT_NE(a.canonical(), b.canonical());
  EXPECT_THROW(a.set("hadamard_size", "100"), sq::Error);
  EXPECT_THROW(a.set("grid_dim", "4"), sq::Error);
  EXPECT_THROW(a.set("method", "higgs3"), sq::Error);
  a.set("method", "higgs-gptq");
  EXPECT_EQ(a.method, "higgs-gptq");
}

// A reader refuses a Gaussian scheme whose rotation does not fit the layer, naming the layer.
TEST(HiggsPipeline, DecodeRejectsInconsistentRotation) {
  const Layer l = correlated_layer(8, 100, 7);
  const sq::QuantizedLayer q = run(l, higgs_opts("higgs", 4, 32, 64));
  const sq::EncodedLayer enc = sq::encode_layer(q);
  std::map<std::string, std::vector<uint8_t>> parts;
  for (const auto& p : enc.payloads) parts[p.part] = p.frame;
  const auto fetch = [&](const std::string& part) {
    const auto& v = parts.at(part);
    return std::make_pair(v.data(), v.size());
  };
  for (const auto& [key, value] : std::vector<std::pair<std::string, int64_t>>{
           {"size", 48}, {"cols_padded", 64}, {"cols_padded", 256}}) {
    nlohmann::json bad = enc.scheme;
    bad["rotation"][key] = value;
    try {
      sq::decode_layer(bad, fetch, "model.layers.0.mlp.up_proj");
      ADD_FAILURE() << "decode accepted rotation " << key << " = " << value;
    } catch (const sq::Error& e) {
      EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj"), std::string::npos) << e.what();
    }
  }
  nlohmann::json bad = enc.scheme;
  bad["grid_points"] = 32;  // no p = 2 grid with 32 points
  EXPECT_THROW(sq::decode_layer(bad, fetch, "x"), sq::Error);
}

}  // namespace
