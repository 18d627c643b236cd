// QuantEase: coordinate descent against GPTQ on the same grid and Hessian, the per-sweep objective trace,
// outliers (unstructured and whole columns), the sq codec round trip with outliers, and option errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pipeline/job_options.hpp"
#include "pipeline/layer_codec.hpp"
#include "correlated_hessian.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/solver_quantease.hpp"
#include "util/error.hpp"

namespace {

struct Layer {
  int64_t rows, cols;
  std::vector<float> w, h;
};

// H = 2/N X^T X with X = Z A D: correlated inputs (A mixes columns) of uneven scale (D). W is Gaussian
// with a few heavy entries (as real layers have), which is what outliers are for.
Layer correlated_layer(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  Layer l{rows, cols, std::vector<float>(size_t(rows * cols)), correlated_hessian(cols, 2.0f, rng, normal)};
  for (auto& v : l.w) v = 0.02f * normal(rng) * (uniform(rng) < 0.005f ? 6.0f : 1.0f);
  return l;
}

sq::QuantizeOptions opts(const std::string& method, int bits, int64_t group = -1) {
  sq::QuantizeOptions o;
  o.method = method;
  o.bits = bits;
  o.group_size = group;
  return o;
}

sq::QuantizedLayer run(const Layer& l, const sq::QuantizeOptions& o, sq::QuantEaseDiagnostics* diag = nullptr) {
  if (o.method == "quantease")
    return sq::quantease_quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o,
                                        sq::null_logger(), diag);
  return sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger());
}

// Sweeps after which the solver objective may not rise: those that round and follow a rounded state.
void expect_monotone_over_quantized_sweeps(const sq::QuantEaseDiagnostics& d) {
  ASSERT_EQ(d.solver_objective.size(), d.relaxed.size());
  for (size_t s = 1; s < d.solver_objective.size(); ++s) {
    if (d.relaxed[s] || d.relaxed[s - 1]) continue;
    EXPECT_LE(d.solver_objective[s], d.solver_objective[s - 1] * (1 + 1e-6)) << "sweep " << s;
  }
}

std::string error_message(const std::function<void()>& f, int32_t expected) {
  try {
    f();
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an sq::Error";
  return "";
}

}  // namespace

TEST(QuantEase, NoWorseThanGptqOnTheSameGridAndHessian) {
  std::printf("\nlayer objective tr((W-Q) H (W-Q)^T), random 64x256 layers (correlated H), per-channel min-max grid\n");
  std::printf("%-6s %-5s %14s %14s %14s %14s\n", "bits", "layer", "rtn", "gptq", "quantease", "qe init=gptq");
  for (int bits : {3, 4}) {
    double sum_gptq = 0, sum_qe = 0;
    for (uint32_t i = 0; i < 3; ++i) {
      const Layer l = correlated_layer(64, 256, 500u + i);
      const double rtn = run(l, opts("rtn", bits)).objective;
      const double gptq = run(l, opts("gptq", bits)).objective;
      const double qe = run(l, opts("quantease", bits)).objective;
      sq::QuantizeOptions from_gptq = opts("quantease", bits);
      from_gptq.init = "gptq";
      from_gptq.relax_sweeps = 0;
      sq::QuantEaseDiagnostics d;
      const double qe_gptq = run(l, from_gptq, &d).objective;
      std::printf("%-6d %-5u %14.6g %14.6g %14.6g %14.6g\n", bits, i, rtn, gptq, qe, qe_gptq);
      // Started on GPTQ's result (same grid), rounded coordinate descent can only lower what it minimizes.
      EXPECT_LE(d.solver_objective.back(), d.initial_solver_objective * (1 + 1e-6));
      EXPECT_LE(qe_gptq, gptq * 1.001);
      EXPECT_LT(qe, rtn);
      sum_gptq += gptq;
      sum_qe += qe;
    }
    EXPECT_LE(sum_qe, sum_gptq) << bits << "-bit";
  }
}

TEST(QuantEase, GroupedGridMatchesGptqStaticGroups) {
  const Layer l = correlated_layer(64, 256, 41);
  sq::QuantizeOptions g = opts("gptq", 4, 64);
  g.static_groups = true;  // GPTQ then fits its groups on the original W, as QuantEase does
  const auto gptq = run(l, g);
  const auto qe = run(l, opts("quantease", 4, 64));
  std::printf("\n4-bit g64 on 64x256: gptq (static groups) %.6g, quantease %.6g\n", gptq.objective, qe.objective);
  EXPECT_EQ(qe.scales, gptq.scales);
  EXPECT_EQ(qe.zeros, gptq.zeros);
  EXPECT_EQ(qe.n_groups, 4);
  EXPECT_LE(qe.objective, gptq.objective);
}

TEST(QuantEase, ObjectiveTraceDecreasesOverQuantizedSweeps) {
  const Layer l = correlated_layer(48, 192, 7);
  sq::QuantizeOptions o = opts("quantease", 3);
  o.relax_sweeps = 0;
  sq::QuantEaseDiagnostics d;
  const auto q = run(l, o, &d);
  ASSERT_EQ(d.solver_objective.size(), size_t(o.sweeps));
  std::printf("\n3-bit per-channel, no relaxation: solver objective per sweep\n");
  for (size_t s = 0; s < d.solver_objective.size(); ++s) std::printf("  %2zu %.8g\n", s, d.solver_objective[s]);
  for (size_t s = 1; s < d.solver_objective.size(); ++s)
    EXPECT_LE(d.solver_objective[s], d.solver_objective[s - 1] * (1 + 1e-6)) << "sweep " << s;
  EXPECT_LT(d.solver_objective.back(), d.solver_objective.front());
  // The trace's last entry is the result's objective (H as given).
  EXPECT_NEAR(d.objective.back(), q.objective, 1e-4 * q.objective);

  // With the paper's relaxation, rounded sweeps that follow rounded sweeps still never go up.
  sq::QuantEaseDiagnostics relaxed;
  const auto r = run(l, opts("quantease", 3), &relaxed);
  std::printf("with relaxation (sweeps 1, 4, ..., 25 unrounded): final %.8g vs %.8g without\n", r.objective, q.objective);
  expect_monotone_over_quantized_sweeps(relaxed);
  EXPECT_TRUE(relaxed.relaxed[1]);
  EXPECT_FALSE(relaxed.relaxed.back());
}

TEST(QuantEase, OutliersLowerTheObjectiveAndDecodeExactly) {
  const Layer l = correlated_layer(64, 256, 13);
  const auto plain = run(l, opts("quantease", 3));
  sq::QuantizeOptions o = opts("quantease", 3);
  o.outlier_fraction = 0.01;
  sq::QuantEaseDiagnostics d;
  const auto q = run(l, o, &d);
  std::printf("\n3-bit per-channel 64x256: quantease %.6g, + 1%% unstructured outliers %.6g (%lld outliers, lambda_max %.4g)\n",
              plain.objective, q.objective, static_cast<long long>(d.outliers), d.lambda_max);
  EXPECT_LT(q.objective, plain.objective);
  EXPECT_GT(d.lambda_max, 0.0);
  const int64_t k = std::llround(64 * 256 * 0.01);
  EXPECT_GT(d.outliers, 0);
  EXPECT_LE(d.outliers, k);
  ASSERT_EQ(q.outliers.row_ptr.size(), size_t(65));
  EXPECT_EQ(q.outliers.row_ptr.back(), int64_t(q.outliers.col.size()));
  // dequant = decode(codes, grid) + outliers, bit for bit.
  const auto decoded = sq::decode_weights(q);
  EXPECT_EQ(0, std::memcmp(decoded.data(), q.dequant.data(), decoded.size() * sizeof(float)));
  sq::QuantizedLayer grid_only = q;
  grid_only.outliers = {};
  EXPECT_NE(sq::decode_weights(grid_only), q.dequant);
  // Outliers do not break the descent (IHT with step 1 / (2 lambda_max) is monotone).
  o.relax_sweeps = 0;
  sq::QuantEaseDiagnostics d0;
  run(l, o, &d0);
  for (size_t s = 1; s < d0.solver_objective.size(); ++s)
    EXPECT_LE(d0.solver_objective[s], d0.solver_objective[s - 1] * (1 + 1e-6)) << "sweep " << s;
}

TEST(QuantEase, ColumnOutliersKeepWholeColumns) {
  const Layer l = correlated_layer(32, 200, 17);
  const auto plain = run(l, opts("quantease", 3));
  sq::QuantizeOptions o = opts("quantease", 3);
  o.outlier_fraction = 0.02;
  o.outlier_structure = "columns";
  const auto q = run(l, o);
  std::map<int32_t, int> per_column;
  for (int32_t c : q.outliers.col) ++per_column[c];
  std::printf("\n3-bit per-channel 32x200: quantease %.6g, + 2%% outlier columns %.6g (%zu columns)\n", plain.objective,
              q.objective, per_column.size());
  EXPECT_EQ(per_column.size(), size_t(4));  // round(200 * 0.02)
  for (const auto& [c, n] : per_column) EXPECT_LE(n, 32) << "column " << c;
  EXPECT_LT(q.objective, plain.objective);
  const auto decoded = sq::decode_weights(q);
  EXPECT_EQ(0, std::memcmp(decoded.data(), q.dequant.data(), decoded.size() * sizeof(float)));
}

TEST(QuantEase, CodecRoundTripWithOutliersIsBitIdentical) {
  const Layer l = correlated_layer(24, 96, 23);
  sq::QuantizeOptions o = opts("quantease", 4, 32);
  o.outlier_fraction = 0.03;
  o.sweeps = 6;
  const auto q = run(l, o);
  ASSERT_FALSE(q.outliers.empty());
  const auto enc = sq::encode_layer(q);
  EXPECT_EQ(enc.scheme.at("outliers").get<int64_t>(), int64_t(q.outliers.col.size()));
  std::map<std::string, std::vector<uint8_t>> store;
  for (const auto& p : enc.payloads) store[p.part] = p.frame;
  EXPECT_TRUE(store.count("outlier_row_ptr") && store.count("outlier_col") && store.count("outlier_val"));
  const auto back = sq::decode_layer(enc.scheme, [&](const std::string& part) {
    const auto& v = store.at(part);
    return std::make_pair(v.data(), v.size());
  }, "layer");
  EXPECT_EQ(back.codes, q.codes);
  EXPECT_EQ(back.outliers.row_ptr, q.outliers.row_ptr);
  EXPECT_EQ(back.outliers.col, q.outliers.col);
  ASSERT_EQ(back.outliers.val.size(), q.outliers.val.size());
  EXPECT_EQ(0, std::memcmp(back.outliers.val.data(), q.outliers.val.data(), q.outliers.val.size() * sizeof(float)));
  ASSERT_EQ(back.dequant.size(), q.dequant.size());
  EXPECT_EQ(0, std::memcmp(back.dequant.data(), q.dequant.data(), q.dequant.size() * sizeof(float)));

  // A corrupt outlier column is a format error naming the layer, not a crash.
  auto bad = enc;
  std::vector<int32_t> cols = q.outliers.col;
  cols[0] = 96;
  sq::QuantizedLayer tampered = q;
  tampered.outliers.col = cols;
  tampered.dequant.clear();
  const auto enc_bad = sq::encode_layer(tampered);
  std::map<std::string, std::vector<uint8_t>> store_bad;
  for (const auto& p : enc_bad.payloads) store_bad[p.part] = p.frame;
  const std::string msg = error_message([&] {
    sq::decode_layer(enc_bad.scheme, [&](const std::string& part) {
      const auto& v = store_bad.at(part);
      return std::make_pair(v.data(), v.size());
    }, "model.layers.0.mlp.down_proj");
  }, SQ_ERR_FORMAT);
  EXPECT_NE(msg.find("down_proj"), std::string::npos) << msg;
  EXPECT_NE(msg.find("outlier column"), std::string::npos) << msg;
}

TEST(QuantEase, WithoutOutliersTheLayerIsPlainAffine) {
  const Layer l = correlated_layer(16, 64, 29);
  const auto q = run(l, opts("quantease", 4, 32));
  EXPECT_TRUE(q.outliers.empty());
  EXPECT_EQ(q.grid, sq::GridKind::Affine);
  EXPECT_EQ(sq::encode_layer(q).scheme.at("outliers").get<int64_t>(), 0);
  // Through quantize_layer (the dispatch the pipeline uses) the result is the same.
  const auto via_dispatch = sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(),
                                               opts("quantease", 4, 32), sq::null_logger());
  EXPECT_EQ(via_dispatch.codes, q.codes);
  EXPECT_EQ(via_dispatch.dequant, q.dequant);
}

TEST(QuantEase, DeadInputsAreRounded) {
  Layer l = correlated_layer(8, 32, 31);
  for (int64_t j = 0; j < 32; ++j) l.h[size_t(5 * 32 + j)] = l.h[size_t(j * 32 + 5)] = 0.0f;
  sq::QuantizeOptions o = opts("quantease", 4);
  o.damp = 0.0;
  const auto q = run(l, o);
  for (float v : q.dequant) ASSERT_TRUE(std::isfinite(v));
  const auto rtn = run(l, opts("rtn", 4));
  for (int64_t r = 0; r < 8; ++r) EXPECT_EQ(q.dequant[size_t(r * 32 + 5)], rtn.dequant[size_t(r * 32 + 5)]) << "row " << r;
}

TEST(QuantEase, LargestEigenvalueOfAKnownMatrix) {
  // Q diag(5, 2, 1, 0.5) Q^T with a rotation Q in the (0, 1) plane.
  const float c = std::cos(0.3f), s = std::sin(0.3f);
  const float d[4] = {5, 2, 1, 0.5f};
  float m[16] = {};
  const float rot[16] = {c, -s, 0, 0, s, c, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 4; ++k) m[i * 4 + j] += rot[i * 4 + k] * d[k] * rot[j * 4 + k];
  EXPECT_NEAR(sq::largest_eigenvalue(sq::default_cpu_backend(), m, 4), 5.0, 1e-4);
}

TEST(QuantEase, BadOptionsNameTheOption) {
  sq::QuantizeOptions o = opts("quantease", 4);
  const std::pair<const char*, const char*> bad[] = {{"sweeps", "0"},           {"sweeps", "x"},
                                                     {"init", "rtn"},           {"outlier_fraction", "0.6"},
                                                     {"outlier_fraction", "-1"}, {"outlier_structure", "rows"},
                                                     {"relax_sweeps", "-2"}};
  for (const auto& entry : bad) {
    // Not a structured binding: C++17 lambdas cannot capture those (clang rejects it).
    const char* key = entry.first;
    const char* value = entry.second;
    const std::string msg = error_message([&] { sq::set_option(o, key, value); }, SQ_ERR_INVALID_ARGUMENT);
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    sq::JobOptions job;
    const std::string job_msg = error_message([&] { job.set(key, value); }, SQ_ERR_INVALID_ARGUMENT);
    EXPECT_NE(job_msg.find(key), std::string::npos) << job_msg;
  }
  EXPECT_EQ(o.sweeps, 30);  // rejected values leave the options unchanged
  sq::set_option(o, "sweeps", "12");
  sq::set_option(o, "init", "gptq");
  sq::set_option(o, "outlier_fraction", "0.01");
  sq::set_option(o, "outlier_structure", "columns");
  sq::set_option(o, "relax_sweeps", "0");
  EXPECT_EQ(o.sweeps, 12);
  EXPECT_EQ(o.init, "gptq");
  EXPECT_EQ(o.outlier_structure, "columns");

  const Layer l = correlated_layer(4, 16, 2);
  sq::QuantizeOptions ao = opts("quantease", 4);
  ao.act_order = true;
  std::string msg = error_message([&] { run(l, ao); }, SQ_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("act_order"), std::string::npos) << msg;
  msg = error_message([&] {
    sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), 4, 16, nullptr, opts("quantease", 4), sq::null_logger());
  }, SQ_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("Hessian"), std::string::npos) << msg;

  sq::JobOptions job;
  job.set("method", "quantease");
  job.set("outlier_fraction", "0.01");
  EXPECT_NE(job.canonical().find("outlier_fraction=0.01"), std::string::npos) << job.canonical();
}
