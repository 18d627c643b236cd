// Layer quantization: objective ordering RTN > GPTQ on correlated Hessians, grid conventions, and the
// handling of hostile inputs (non-PD H, dead inputs, NaN/Inf).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "correlated_hessian.hpp"
#include "quant/grid_minmax_affine.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/pack.hpp"
#include "util/half.hpp"
#include "quant/transform_act_order.hpp"

namespace {

struct Layer {
  int64_t rows, cols;
  std::vector<float> w, h;
};

// H = 2/N X^T X with X = Z A D: correlated inputs (A mixes columns) of uneven scale (D).
Layer correlated_layer(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Layer l{rows, cols, std::vector<float>(size_t(rows * cols)), correlated_hessian(cols, 2.0f, rng, normal)};
  for (auto& v : l.w) v = 0.02f * normal(rng);
  return l;
}

sq::QuantizedLayer run(const Layer& l, const sq::QuantizeOptions& o, const float* h = nullptr) {
  return sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, h ? h : l.h.data(), o,
                            sq::null_logger());
}

sq::QuantizeOptions opts(const std::string& method, int bits, int64_t group = -1) {
  sq::QuantizeOptions o;
  o.method = method;
  o.bits = bits;
  o.group_size = group;
  return o;
}

template <typename F>
sq::Error expect_error(F&& f) {
  try {
    f();
  } catch (const sq::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an sq::Error";
  return sq::Error(SQ_OK, "");
}

}  // namespace

TEST(LayerQuantizer, GptqBeatsRtnOnCorrelatedHessians) {
  const int bits_list[] = {2, 3, 4};
  const int layers = 4;
  std::printf("\nmean layer objective tr((W-Q) H (W-Q)^T) over %d random 64x256 layers (correlated H)\n", layers);
  std::printf("%-8s %14s %14s %14s\n", "method", "2-bit", "3-bit", "4-bit");
  double mean[2][3] = {};
  int gptq_wins = 0, trials = 0;
  for (int l = 0; l < layers; ++l) {
    const Layer layer = correlated_layer(64, 256, 1000u + uint32_t(l));
    for (int b = 0; b < 3; ++b) {
      const double rtn = run(layer, opts("rtn", bits_list[b])).objective;
      const double gptq = run(layer, opts("gptq", bits_list[b])).objective;
      mean[0][b] += rtn / layers;
      mean[1][b] += gptq / layers;
      gptq_wins += gptq < rtn;
      ++trials;
    }
  }
  const char* names[] = {"rtn", "gptq"};
  for (int m = 0; m < 2; ++m) std::printf("%-8s %14.6g %14.6g %14.6g\n", names[m], mean[m][0], mean[m][1], mean[m][2]);
  for (int b = 0; b < 3; ++b) EXPECT_LT(mean[1][b], mean[0][b]) << bits_list[b] << "-bit";
  EXPECT_EQ(gptq_wins, trials);
}

TEST(LayerQuantizer, ObjectiveMatchesDirectComputation) {
  const Layer l = correlated_layer(16, 48, 7);
  const auto q = run(l, opts("gptq", 3, 16));
  double direct = 0;
  for (int64_t r = 0; r < l.rows; ++r)
    for (int64_t i = 0; i < l.cols; ++i)
      for (int64_t j = 0; j < l.cols; ++j)
        direct += double(l.w[size_t(r * l.cols + i)] - q.dequant[size_t(r * l.cols + i)]) * l.h[size_t(i * l.cols + j)] *
                  double(l.w[size_t(r * l.cols + j)] - q.dequant[size_t(r * l.cols + j)]);
  EXPECT_NEAR(q.objective, direct, 1e-4 * direct);
  EXPECT_EQ(q.n_groups, 3);
  EXPECT_EQ(q.scales.size(), size_t(3 * 16));
}

TEST(LayerQuantizer, DequantIsScaleTimesCodeMinusZeroInOriginalOrder) {
  const Layer l = correlated_layer(8, 64, 3);
  auto o = opts("gptq", 4, 16);
  o.act_order = true;
  const auto q = run(l, o);
  ASSERT_EQ(q.perm.size(), size_t(64));
  for (int64_t r = 0; r < l.rows; ++r)
    for (int64_t c = 0; c < l.cols; ++c) {
      const size_t g = size_t(q.g_idx[size_t(c)]);
      const float s = q.scales[g * size_t(l.rows) + size_t(r)], z = q.zeros[g * size_t(l.rows) + size_t(r)];
      EXPECT_EQ(q.dequant[size_t(r * l.cols + c)], s * (float(q.codes[size_t(r * l.cols + c)]) - z));
    }
}

TEST(ActOrder, StableDescendingPermutation) {
  const std::vector<float> h = {1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2};
  const auto perm = sq::act_order_permutation(h.data(), 4, 4);
  EXPECT_EQ(perm, (std::vector<int32_t>{1, 3, 0, 2}));
  EXPECT_EQ(sq::invert_permutation(perm), (std::vector<int32_t>{2, 0, 3, 1}));
}

TEST(MinMaxAffineGrid, ReferenceConventions) {
  // Row 0 all zero (degenerate: range [-1, 1]); row 1 positive only; row 2 mixed.
  const std::vector<float> w = {0, 0, 0, 0, 1, 2, 3, 4, -1, 0.5f, 2, -0.25f};
  // fp32 scales: the published conventions exactly (fp16 storage is tested below).
  sq::MinMaxAffineGrid asym(2, false, sq::ScaleStorage::F32), sym(2, true, sq::ScaleStorage::F32);
  sq::QuantizedLayer a, s;
  asym.fit(w.data(), 4, 3, 4, nullptr)->store(a);
  sym.fit(w.data(), 4, 3, 4, nullptr)->store(s);
  EXPECT_FLOAT_EQ(a.scales[0], 2.0f / 3);
  EXPECT_FLOAT_EQ(a.zeros[0], 2);  // round(1.5) = 2 (half to even)
  EXPECT_FLOAT_EQ(a.scales[1], 4.0f / 3);
  EXPECT_FLOAT_EQ(a.zeros[1], 0);
  EXPECT_FLOAT_EQ(a.scales[2], 1.0f);
  EXPECT_FLOAT_EQ(a.zeros[2], 1);
  // sym: zero = (maxq + 1) / 2 = 2; a row without negatives keeps xmin = 0 (as the reference does).
  EXPECT_FLOAT_EQ(s.zeros[1], 2);
  EXPECT_FLOAT_EQ(s.scales[1], 4.0f / 3);
  EXPECT_FLOAT_EQ(s.scales[2], 4.0f / 3);
  const float col[3] = {0.0f, 4.0f, -1.0f};
  uint8_t codes[3];
  float values[3];
  sym.fit(w.data(), 4, 3, 4, nullptr)->quantize_column(col, 3, codes, values);
  EXPECT_EQ(codes[1], 3);  // clamped at maxq
  EXPECT_FLOAT_EQ(values[1], 4.0f / 3);
  // fp16 storage (the default): the scale is the fp16 value nearest to it; zeros do not change.
  sq::QuantizedLayer h;
  sq::MinMaxAffineGrid(2, false).fit(w.data(), 4, 3, 4, nullptr)->store(h);
  EXPECT_EQ(h.scales[0], 0.66650390625f);  // 2/3 rounded to 11 significant bits
  EXPECT_EQ(h.scales[1], 1.3330078125f);
  EXPECT_EQ(h.zeros, a.zeros);
}

TEST(LayerQuantizer, NonPositiveDefiniteHessianRaisesDamping) {
  // Indefinite (eigenvalues -0.05 and 2.05) but fixable: damp 0.01 fails, 0.1 succeeds.
  Layer l{4, 2, {0.1f, -0.2f, 0.3f, 0.05f, -0.4f, 0.2f, 0.15f, 0.25f}, {1.0f, 1.05f, 1.05f, 1.0f}};
  std::vector<std::string> logged;
  sq::Logger log;
  log.fn = [](int32_t, const char* m, void* u) { static_cast<std::vector<std::string>*>(u)->push_back(m); };
  log.user_data = &logged;
  const auto q = sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), 4, 2, l.h.data(), opts("gptq", 4), log);
  EXPECT_DOUBLE_EQ(q.damp_used, 0.1);
  ASSERT_FALSE(logged.empty());
  EXPECT_NE(logged[0].find("not positive definite"), std::string::npos);

  // Hopeless: singular even with damp 1.0 -> SQ_ERR_NUMERIC, no crash.
  Layer bad{2, 2, {0.1f, 0.2f, 0.3f, 0.4f}, {1.0f, 2.0f, 2.0f, 1.0f}};
  const auto e = expect_error([&] { run(bad, opts("gptq", 4)); });
  EXPECT_EQ(e.code(), SQ_ERR_NUMERIC);
  EXPECT_NE(std::string(e.what()).find("not positive definite even with damp 1"), std::string::npos) << e.what();
}

TEST(LayerQuantizer, DeadInputsAndZeroColumns) {
  Layer l = correlated_layer(8, 32, 9);
  for (int64_t j : {0, 17}) {
    for (int64_t k = 0; k < l.cols; ++k) l.h[size_t(j * l.cols + k)] = l.h[size_t(k * l.cols + j)] = 0.0f;
  }
  for (int64_t r = 0; r < l.rows; ++r) l.w[size_t(r * l.cols + 5)] = 0.0f;  // an all-zero weight column
  const auto q = run(l, opts("gptq", 4, 16));
  for (int64_t r = 0; r < l.rows; ++r) {
    EXPECT_EQ(q.dequant[size_t(r * l.cols + 0)], 0.0f);
    EXPECT_EQ(q.dequant[size_t(r * l.cols + 17)], 0.0f);
    EXPECT_EQ(q.dequant[size_t(r * l.cols + 5)], 0.0f);  // 0 is always on a min-max grid
  }
  EXPECT_TRUE(std::isfinite(q.objective));
  // An all-zero layer and an all-zero H (every input dead) still quantize: to zeros.
  Layer zero{3, 4, std::vector<float>(12, 0.0f), std::vector<float>(16, 0.0f)};
  const auto z = run(zero, opts("gptq", 2));
  for (float v : z.dequant) EXPECT_EQ(v, 0.0f);
}

TEST(LayerQuantizer, NonFiniteInputsNameTheirPlace) {
  Layer l = correlated_layer(4, 8, 2);
  l.w[size_t(1 * 8 + 6)] = std::numeric_limits<float>::infinity();
  auto e = expect_error([&] { run(l, opts("gptq", 4)); });
  EXPECT_EQ(e.code(), SQ_ERR_NUMERIC);
  EXPECT_NE(std::string(e.what()).find("W[1, 6] is infinite"), std::string::npos) << e.what();
  l = correlated_layer(4, 8, 2);
  l.h[size_t(3 * 8 + 2)] = std::nanf("");
  e = expect_error([&] { run(l, opts("gptq", 4)); });
  EXPECT_NE(std::string(e.what()).find("H[3, 2] is NaN"), std::string::npos) << e.what();
}

TEST(LayerQuantizer, OptionValidationMessages) {
  const Layer l = correlated_layer(4, 8, 2);
  auto o = opts("gptq", 5);
  EXPECT_STREQ(expect_error([&] { run(l, o); }).what(), "bits must be 2, 3, 4 or 8; got 5");
  o = opts("gptq", 4, 0);
  EXPECT_NE(std::string(expect_error([&] { run(l, o); }).what()).find("group_size"), std::string::npos);
  sq::QuantizeOptions s;
  EXPECT_NE(std::string(expect_error([&] { sq::set_option(s, "bitz", "4"); }).what()).find("unknown layer option 'bitz'"),
            std::string::npos);
  EXPECT_NE(std::string(expect_error([&] { sq::set_option(s, "damp", "abc"); }).what()).find("'damp' must be a finite number"),
            std::string::npos);
  sq::set_option(s, "act_order", "true");
  EXPECT_TRUE(s.act_order);
  // Data-free RTN works; GPTQ without H is a clear error.
  EXPECT_NO_THROW(sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), 4, 8, nullptr, opts("rtn", 4), sq::null_logger()));
  const auto e = expect_error(
      [&] { sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), 4, 8, nullptr, opts("gptq", 4), sq::null_logger()); });
  EXPECT_EQ(e.code(), SQ_ERR_INVALID_ARGUMENT);
}

TEST(ColumnImportance, BothDefinitionsAreSaneOnIdentity) {
  // H = I: U = I, diag(H^-1) = 1: every column equally important under both definitions.
  std::vector<float> u = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  for (auto kind : {sq::ImportanceKind::CholeskyDiagonal, sq::ImportanceKind::InverseDiagonal}) {
    const auto s = sq::column_importance(u.data(), 3, kind, 4.0);
    ASSERT_EQ(s.size(), 3u);
    for (float v : s) EXPECT_FLOAT_EQ(v, 1.0f);
  }
  // A column with a smaller inverse diagonal matters more.
  std::vector<float> u2 = {2, 0, 0, 0, 1, 0, 0, 0, 0.5f};
  const auto s = sq::column_importance(u2.data(), 3, sq::ImportanceKind::InverseDiagonal, 4.0);
  EXPECT_LT(s[0], s[1]);
  EXPECT_LT(s[1], s[2]);
  EXPECT_FLOAT_EQ(s[2], 1.0f);
}

namespace {

// Mean objective of `o` over `layers`; `o.importance` etc. as given.
double mean_objective(const std::vector<Layer>& layers, const sq::QuantizeOptions& o) {
  double total = 0;
  for (const Layer& l : layers) total += run(l, o).objective;
  return total / double(layers.size());
}

}  // namespace

// The ordering the methods are built for, end to end through quantize_layer and the presets: on
// correlated Hessians RTN > GPTQ, and both LeanQuant grids (importance-weighted fits inside the GPTQ
// sweep) at most GPTQ, at 2 and 3 bits, per-channel and g128. The importance variants are printed too;
// both must beat RTN.
TEST(LayerQuantizer, ObjectiveOrderingRtnGptqLeanQuant) {
  std::vector<Layer> layers;
  for (uint32_t l = 0; l < 4; ++l) layers.push_back(correlated_layer(64, 256, 2000u + l));
  struct Method {
    const char* label;
    const char* preset;
    const char* importance;
  };
  const Method methods[] = {
      {"rtn", "rtn", "auto"},
      {"gptq", "gptq", "auto"},
      {"leanquant-lut (cholesky)", "leanquant", "auto"},
      {"leanquant-lut (inverse-diag)", "leanquant", "inverse-diag"},
      {"leanquant-affine (cholesky)", "leanquant-affine", "auto"},
      {"leanquant-affine (inverse-diag)", "leanquant-affine", "inverse-diag"},
  };
  const int bits_list[] = {2, 3};
  const int64_t groups[] = {-1, 128};
  double mean[6][4] = {};
  std::printf("\nmean tr((W-Q) H (W-Q)^T) over %zu random 64x256 layers (correlated H), exponent 4, damp 0.01\n",
              layers.size());
  std::printf("%-32s %12s %12s %12s %12s\n", "method", "2-bit pc", "2-bit g128", "3-bit pc", "3-bit g128");
  for (int m = 0; m < 6; ++m) {
    std::printf("%-32s", methods[m].label);
    for (int b = 0; b < 2; ++b)
      for (int g = 0; g < 2; ++g) {
        auto o = opts(methods[m].preset, bits_list[b], groups[g]);
        o.importance = methods[m].importance;
        mean[m][b * 2 + g] = mean_objective(layers, o);
        std::printf(" %12.6g", mean[m][b * 2 + g]);
      }
    std::printf("\n");
  }
  for (int c = 0; c < 4; ++c) {
    SCOPED_TRACE("column " + std::to_string(c) + " of the table");
    EXPECT_GT(mean[0][c], mean[1][c]);  // RTN > GPTQ
    EXPECT_LE(mean[2][c], mean[1][c]);  // LeanQuant LUT <= GPTQ
    EXPECT_LE(mean[4][c], mean[1][c]);  // LeanQuant affine <= GPTQ
    for (int m = 2; m < 6; ++m) {
      EXPECT_TRUE(std::isfinite(mean[m][c]));
      EXPECT_LT(mean[m][c], mean[0][c]) << methods[m].label << " is not below RTN";
    }
  }
}

// With fp16 scales (the default) the weights the sweep used are exactly what a reader decodes from the
// packed checkpoint tensors: qweight, qzeros (both formats), fp16 scales, g_idx; and for LUT layers
// qweight + the fp32 lookup table.
TEST(LayerQuantizer, PackedCheckpointDequantizesToTheQuantizerValuesBitExactly) {
  const Layer l = correlated_layer(64, 256, 77);
  struct Case {
    const char* method;
    int bits;
    int64_t group;
    bool act_order;
  };
  const Case cases[] = {{"gptq", 4, 128, false}, {"gptq", 3, -1, false}, {"gptq", 4, 64, true},
                        {"leanquant-affine", 2, 128, false}, {"leanquant-affine", 3, -1, true},
                        {"rtn", 8, 32, false}, {"leanquant", 3, -1, false}, {"leanquant", 4, 128, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + std::to_string(c.bits) + "-bit group " + std::to_string(c.group) +
                 (c.act_order ? " act-order" : ""));
    auto o = opts(c.method, c.bits, c.group);
    o.act_order = c.act_order;
    const auto q = run(l, o);
    const auto qweight = sq::gptq::pack_qweight(q.codes.data(), q.rows, q.cols, q.bits);
    std::vector<float> decoded;
    if (q.grid == sq::GridKind::Lut) {
      decoded = sq::gptq::dequantize_lut(qweight.data(), q.lut.data(), q.g_idx, q.rows, q.cols, q.bits);
    } else {
      const auto scales16 = sq::gptq::to_fp16(q.scales.data(), int64_t(q.scales.size()));
      for (size_t i = 0; i < q.scales.size(); ++i) ASSERT_EQ(sq::half_to_float(scales16[i]), q.scales[i]) << "scale " << i;
      bool has_zero_point_0 = false;
      for (float z : q.zeros) has_zero_point_0 |= z == 0.0f;
      for (auto format : {sq::gptq::CheckpointFormat::V1, sq::gptq::CheckpointFormat::V2}) {
        if (format == sq::gptq::CheckpointFormat::V1 && has_zero_point_0) continue;  // v1 cannot hold it
        const auto qzeros = sq::gptq::pack_qzeros(q.zeros.data(), q.n_groups, q.rows, q.bits, format);
        decoded = sq::gptq::dequantize_gptq(qweight.data(), qzeros.data(), scales16.data(), q.g_idx, q.rows, q.cols,
                                            q.n_groups, q.bits, format);
        ASSERT_EQ(decoded.size(), q.dequant.size());
        int64_t differ = 0;
        for (size_t i = 0; i < decoded.size(); ++i) differ += sq::float_to_bits(decoded[i]) != sq::float_to_bits(q.dequant[i]);
        EXPECT_EQ(differ, 0) << sq::gptq::checkpoint_format_name(format);
      }
      continue;
    }
    int64_t differ = 0;
    for (size_t i = 0; i < decoded.size(); ++i) differ += sq::float_to_bits(decoded[i]) != sq::float_to_bits(q.dequant[i]);
    EXPECT_EQ(differ, 0);
  }
  // fp32 scales are kept as computed: some are not fp16 values, so an fp16 checkpoint would differ.
  auto o = opts("gptq", 4, 128);
  o.scale_storage = sq::ScaleStorage::F32;
  const auto q32 = run(l, o);
  int64_t not_half = 0;
  for (float s : q32.scales) not_half += sq::half_to_float(sq::float_to_half(s)) != s;
  EXPECT_GT(not_half, 0);
  sq::QuantizeOptions parsed;
  sq::set_option(parsed, "scale_dtype", "fp32");
  EXPECT_EQ(parsed.scale_storage, sq::ScaleStorage::F32);
  EXPECT_NE(std::string(expect_error([&] { sq::set_option(parsed, "scale_dtype", "bf16"); }).what()).find("scale_dtype"),
            std::string::npos);
}

TEST(ScaleStorage, Fp16RoundingEdges) {
  EXPECT_EQ(sq::stored_scale(1.0f / 3.0f, sq::ScaleStorage::F32), 1.0f / 3.0f);
  EXPECT_EQ(sq::stored_scale(1.0f / 3.0f, sq::ScaleStorage::F16), 0.333251953125f);
  EXPECT_EQ(sq::stored_scale(1e-12f, sq::ScaleStorage::F16), std::ldexp(1.0f, -24));  // never 0
  const auto e = expect_error([] { sq::stored_scale(1e6f, sq::ScaleStorage::F16); });
  EXPECT_EQ(e.code(), SQ_ERR_NUMERIC);
  EXPECT_NE(std::string(e.what()).find("scale_dtype"), std::string::npos) << e.what();
}
