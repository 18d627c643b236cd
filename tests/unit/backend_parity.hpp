// Checks that a backend computes what the CPU reference computes, shared by the offload tests (host
// stand-in device, every machine) and the CUDA tests (a real GPU, skipped without one). Inputs are fresh
// random numbers each call, outputs are compared by ||out - ref|| / ||ref|| in double.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "correlated_hessian.hpp"
#include "io/model_files.hpp"
#include "pipeline/job.hpp"
#include "tiny_model.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/quantize_options.hpp"
#include "util/log.hpp"

namespace sqtest {

inline std::vector<float> random_matrix(size_t n, uint32_t seed, float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (auto& x : v) x = offset + normal(rng);
  return v;
}

inline double relative_error(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    num += (double(out[i]) - ref[i]) * (double(out[i]) - ref[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

// C = alpha op(A) op(B) + beta C on both backends, with leading dimensions wider than the rows.
inline double gemm_error(sq::Backend& be, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float beta, uint32_t seed) {
  const int64_t pad = 3;
  const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const auto a = random_matrix(size_t((ta ? k : m) * lda), seed);
  const auto b = random_matrix(size_t((tb ? n : k) * ldb), seed + 1);
  auto c = random_matrix(size_t(m * ldc), seed + 2);
  auto ref = c;
  sq::default_cpu_backend().gemm(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, beta, ref.data(), ldc);
  be.gemm(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  return relative_error(c, ref);
}

// H = alpha A^T A + beta H; also checks that the result is exactly symmetric.
inline double syrk_error(sq::Backend& be, int64_t n, int64_t k, float beta, uint32_t seed) {
  const int64_t lda = n + 2;
  const auto a = random_matrix(size_t(k * lda), seed);
  auto c = random_matrix(size_t(n * n), seed + 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) c[size_t(i * n + j)] = c[size_t(j * n + i)];
  auto ref = c;
  sq::default_cpu_backend().syrk_ata(n, k, 0.5f, a.data(), lda, beta, ref.data(), n);
  be.syrk_ata(n, k, 0.5f, a.data(), lda, beta, c.data(), n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      if (c[size_t(i * n + j)] != c[size_t(j * n + i)]) return INFINITY;
  return relative_error(c, ref);
}

// A symmetric positive definite n x n matrix (correlated, uneven scales: a realistic Hessian).
inline std::vector<float> spd_matrix(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  auto h = correlated_hessian(n, 2.0f, rng, normal);
  for (int64_t j = 0; j < n; ++j) h[size_t(j * n + j)] += 0.01f;
  return h;
}

// Cholesky (inverse = true: of the inverse) on both backends.
inline double cholesky_error(sq::Backend& be, int64_t n, bool inverse, uint32_t seed) {
  const auto h = spd_matrix(n, seed);
  auto out = h, ref = h;
  const bool ok_ref = inverse ? sq::default_cpu_backend().cholesky_inverse_upper(ref.data(), n, n)
                              : sq::default_cpu_backend().cholesky_upper(ref.data(), n, n);
  const bool ok = inverse ? be.cholesky_inverse_upper(out.data(), n, n) : be.cholesky_upper(out.data(), n, n);
  EXPECT_TRUE(ok_ref);
  EXPECT_TRUE(ok);
  return relative_error(out, ref);
}

// One layer quantized on both backends: the fraction of codes that differ and the objectives.
struct LayerParity {
  double code_mismatch = 0, objective = 0, objective_ref = 0;
};

inline LayerParity layer_parity(sq::Backend& be, const sq::QuantizeOptions& o, int64_t rows, int64_t cols,
                                uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  const auto h = correlated_hessian(cols, 2.0f, rng, normal);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = 0.02f * normal(rng);
  const auto ref = sq::quantize_layer(sq::default_cpu_backend(), w.data(), rows, cols, h.data(), o, sq::null_logger());
  const auto out = sq::quantize_layer(be, w.data(), rows, cols, h.data(), o, sq::null_logger());
  LayerParity p;
  size_t differ = 0;
  for (size_t i = 0; i < ref.codes.size(); ++i) differ += ref.codes[i] != out.codes[i];
  p.code_mismatch = ref.codes.empty() ? 0 : double(differ) / double(ref.codes.size());
  p.objective = out.objective;
  p.objective_ref = ref.objective;
  return p;
}

// CLAQ at `bits` average code bits ("3", or fractional like "2.12"), per channel (its grids are per column).
inline sq::QuantizeOptions claq_options(const std::string& bits) {
  sq::QuantizeOptions o;
  sq::set_option(o, "method", "claq");
  sq::set_option(o, "bits", bits);
  o.group_size = -1;
  return o;
}

// The methods and settings every backend must reproduce.
inline std::vector<sq::QuantizeOptions> parity_methods() {
  std::vector<sq::QuantizeOptions> list;
  auto add = [&](const std::string& method, int bits, int64_t group) {
    sq::QuantizeOptions o;
    o.method = method;
    o.bits = bits;
    o.group_size = group;
    list.push_back(o);
  };
  add("rtn", 4, 128);
  add("gptq", 4, 128);
  add("gptq", 3, -1);
  add("leanquant", 3, -1);
  add("leanquant-affine", 4, 128);
  add("quantease", 3, -1);
  add("claq", 3, -1);
  add("higgs", 4, 128);
  add("higgs-gptq", 3, 128);
  return list;
}

// Stated tolerances: codes identical except near-ties, layer objective within 1%.
// include_rotated = false leaves out the HIGGS methods, whose Hessian is padded to the Hadamard size.
inline void expect_layer_parity(sq::Backend& be, int64_t rows, int64_t cols, uint32_t seed,
                                bool include_rotated = true) {
  for (const auto& o : parity_methods()) {
    if (!include_rotated && o.method.rfind("higgs", 0) == 0) continue;
    const LayerParity p = layer_parity(be, o, rows, cols, seed);
    const std::string what = o.method + " " + std::to_string(o.bits) + "-bit g" + std::to_string(o.group_size);
    EXPECT_LE(p.code_mismatch, 0.01) << what;
    EXPECT_NEAR(p.objective, p.objective_ref, 0.01 * p.objective_ref) << what;
    std::printf("  %-28s codes differing %.5f  objective %.6g vs cpu %.6g\n", what.c_str(), p.code_mismatch,
                p.objective, p.objective_ref);
  }
}

// GPTQ 4-bit g16 with `n_samples` random calibration sequences of `seq_len` tokens (seed 5), for the tiny models.
inline void configure_tiny_gptq(sq::Job& job, int64_t n_samples, int64_t seq_len) {
  job.options().method = "gptq";
  job.options().group_size = 16;
  sq::CalibrationSet calib;
  calib.n_samples = n_samples;
  calib.seq_len = seq_len;
  calib.tokens = random_tokens(n_samples * seq_len, tiny_config().vocab_size, 5);
  job.set_calibration_samples(calib);
}

// GPTQ over the tiny two-block model on `be`: the dequantized weights of every layer, in job order.
// `options` (key, value) are set after the tiny GPTQ configuration.
inline std::vector<std::vector<float>> tiny_gptq_job(sq::Backend& be,
                                                     const std::vector<std::pair<std::string, std::string>>& options = {}) {
  const auto cfg = tiny_config();
  sq::ModelFiles m;
  m.path = "memory";
  m.config = cfg;
  m.weights = std::make_unique<MemorySource>(make_tiny_model(cfg, 21));
  sq::Logger log;
  sq::Job job(be, log, m);
  configure_tiny_gptq(job, 4, 16);
  for (const auto& [key, value] : options) job.options().set(key, value);
  std::vector<std::vector<float>> deq;
  job.set_layer_sink([&](const std::string&, const sq::QuantizedLayer& l) { deq.push_back(l.dequant); });
  job.run();
  return deq;
}

}  // namespace sqtest
