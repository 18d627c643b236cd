// Random layer Hessians for the quantizer tests: H = c / N X^T X over N = 4 * cols tokens, X = Z A D with
// correlated inputs (A mixes columns) of uneven scale (D). Draws from the caller's `rng` and `normal`, so the
// caller's later draws (its W) continue the same streams.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/backend.hpp"

inline std::vector<float> correlated_hessian(int64_t cols, float c, std::mt19937& rng,
                                             std::normal_distribution<float>& normal) {
  std::uniform_real_distribution<float> scale(0.2f, 3.0f);
  const int64_t tokens = 4 * cols;
  std::vector<float> z(size_t(tokens * cols)), a(size_t(cols * cols)), x(size_t(tokens * cols));
  for (auto& v : z) v = normal(rng);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) a[size_t(i * cols + j)] = float(i == j) + 0.5f * normal(rng) / std::sqrt(float(cols));
  std::vector<float> d(static_cast<size_t>(cols));
  for (auto& v : d) v = scale(rng);
  sq::Backend& be = sq::default_cpu_backend();
  be.gemm(false, false, tokens, cols, cols, 1.0f, z.data(), cols, a.data(), cols, 0.0f, x.data(), cols);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] *= d[size_t(j)];
  std::vector<float> h(size_t(cols * cols));
  be.syrk_ata(cols, tokens, c / float(tokens), x.data(), cols, 0.0f, h.data(), cols);
  return h;
}
