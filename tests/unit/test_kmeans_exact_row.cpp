// The portable k-means row fit (kernels/portable/kmeans_exact_row.hpp), compiled for the host, against the
// CPU reference KMeans1dSolver: the same centroids bit for bit on every row the device LUT fit takes. The
// CUDA kernel runs this same source, so what is checked here is the device's arithmetic too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "portable/kmeans_exact_row.hpp"
#include "quant/kmeans_1d.hpp"

namespace {

// Fits with the portable code as row t of `rows` interleaved rows, so the scratch layout is exercised too.
std::vector<float> portable_fit(const std::vector<float>& x, const std::vector<float>* w, int k, bool* ok,
                                int64_t rows = 3, int64_t t = 1) {
  const int n = int(x.size());
  std::vector<double> scratch(size_t((sq::exact_kmeans_scratch_bytes(n, k) * rows + 7) / 8));
  std::vector<float> centroids(size_t(k), -1.0f);
  *ok = sq::exact_kmeans_row(x.data(), w ? w->data() : nullptr, n, k,
                             sq::exact_kmeans_scratch(scratch.data(), n, k, rows, t), centroids.data());
  return centroids;
}

void expect_same_as_solver(const std::vector<float>& x, const std::vector<float>* w, int k) {
  bool ok = false;
  const std::vector<float> got = portable_fit(x, w, k, &ok);
  ASSERT_TRUE(ok);
  const sq::KMeans1dResult ref = sq::kmeans_1d(x.data(), w ? w->data() : nullptr, int64_t(x.size()), k);
  ASSERT_EQ(got.size(), ref.centroids.size());
  for (size_t c = 0; c < got.size(); ++c)
    EXPECT_EQ(got[c], ref.centroids[c]) << "n " << x.size() << " k " << k << " centroid " << c;
}

float to_bf16(float v) {  // keep the top 16 bits: rows with many repeated values, as bf16 checkpoints have
  uint32_t b;
  std::memcpy(&b, &v, 4);
  b &= 0xffff0000u;
  std::memcpy(&v, &b, 4);
  return v;
}

}  // namespace

TEST(KMeansExactRow, MatchesTheCpuSolverOnRandomRows) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (int n : {2, 3, 7, 16, 31, 100, 128, 257, 512})
    for (int k : {1, 2, 4, 8, 16}) {
      std::vector<float> x(static_cast<size_t>(n)), w(static_cast<size_t>(n));
      for (auto& v : x) v = 0.02f * normal(rng);
      x[size_t(n / 2)] *= 40.0f;  // an outlier, as real rows have
      // LeanQuant's importance s_j = v_j^-4 spans several orders of magnitude.
      for (auto& v : w) v = std::exp(2.0f * normal(rng));
      expect_same_as_solver(x, nullptr, k);
      expect_same_as_solver(x, &w, k);
      for (auto& v : x) v += 3.0f;  // off-centre rows: the prefix sums depend on the midpoint shift
      expect_same_as_solver(x, &w, k);
    }
}

TEST(KMeansExactRow, RepeatedValuesZeroWeightsAndFewDistinctValues) {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal;
  std::vector<float> x(128), w(128);
  for (auto& v : x) v = to_bf16(0.01f * normal(rng));
  for (auto& v : w) v = normal(rng) > 0.5f ? 0.0f : std::exp(normal(rng));
  for (int k : {2, 4, 8, 16, 256}) {
    expect_same_as_solver(x, nullptr, k);
    expect_same_as_solver(x, &w, k);
  }
  std::vector<float> coarse(200);
  for (auto& v : coarse) v = float(int(3.0f * normal(rng))) * 0.25f;  // a handful of distinct values
  expect_same_as_solver(coarse, nullptr, 16);  // fewer distinct values than levels: they repeat
  expect_same_as_solver(coarse, nullptr, 3);
  const std::vector<float> constant(64, 0.125f), zeros_w(x.size(), 0.0f);
  expect_same_as_solver(constant, nullptr, 4);
  expect_same_as_solver(x, &zeros_w, 4);  // all weights zero: treated as ones
  const std::vector<float> one{-0.5f};
  expect_same_as_solver(one, nullptr, 4);
}

TEST(KMeansExactRow, ContiguousScratchGivesTheSameFit) {
  std::mt19937 rng(13);
  std::normal_distribution<float> normal;
  std::vector<float> x(96);
  for (auto& v : x) v = normal(rng);
  bool ok1 = false, ok2 = false;
  EXPECT_EQ(portable_fit(x, nullptr, 8, &ok1, 1, 0), portable_fit(x, nullptr, 8, &ok2, 5, 4));
  EXPECT_TRUE(ok1 && ok2);
}

TEST(KMeansExactRow, NonFiniteValuesAndNegativeWeightsAreRefused) {
  std::vector<float> x(16, 1.0f), w(16, 1.0f);
  bool ok = true;
  x[3] = NAN;
  portable_fit(x, nullptr, 4, &ok);
  EXPECT_FALSE(ok);
  x[3] = INFINITY;
  portable_fit(x, nullptr, 4, &ok);
  EXPECT_FALSE(ok);
  x[3] = 1.0f;
  w[5] = -1.0f;
  portable_fit(x, &w, 4, &ok);
  EXPECT_FALSE(ok);
  w[5] = NAN;
  portable_fit(x, &w, 4, &ok);
  EXPECT_FALSE(ok);
}
