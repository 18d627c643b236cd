#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/gaussian_grids.hpp"
#include "quant/grid_gaussian.hpp"
#include "util/error.hpp"

namespace {

// Standard normal samples from a seed that the generator tool never used.
std::vector<float> gaussian_samples(int64_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> nd;
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = float(nd(gen));
  return x;
}

double measured_mse(const sq::GaussianGrid& g, const std::vector<float>& x) {
  const int64_t count = int64_t(x.size()) / g.p;
  std::vector<uint8_t> codes(static_cast<size_t>(count));
  sq::gaussian_grid_nearest(g, x.data(), count, codes.data());
  double err = 0;
  for (int64_t i = 0; i < count; ++i)
    for (int k = 0; k < g.p; ++k) {
      const double d = double(x[size_t(i * g.p + k)]) - g.points[codes[size_t(i)] * g.p + k];
      err += d * d;
    }
  return err / double(x.size());
}

TEST(GaussianGrids, ShipsTheGridsHiggsUses) {
  for (auto [p, n] : {std::pair{1, 2}, {1, 4}, {1, 8}, {1, 16}, {1, 256}, {2, 4}, {2, 16}, {2, 64}, {2, 256}}) {
    const sq::GaussianGrid& g = sq::gaussian_grid(p, n);
    EXPECT_EQ(g.p, p);
    EXPECT_EQ(g.n, n);
    EXPECT_NEAR(g.bits_per_weight(), std::log2(double(n)) / p, 1e-12);
    if (p == 1) {
      for (int c = 1; c < n; ++c) EXPECT_LT(g.points[c - 1], g.points[c]);
    }
  }
  EXPECT_THROW(sq::gaussian_grid(3, 8), sq::Error);
  EXPECT_THROW(sq::gaussian_grid(1, 5), sq::Error);
}

// The shipped MSE holds on fresh samples, and no shipped grid is worse than a finer grid of the same p.
TEST(GaussianGrids, ShippedMseMatchesFreshSamples) {
  const std::vector<float> x = gaussian_samples(int64_t(1) << 20, 0x5eed5eedULL);
  for (const auto& g : sq::gaussian_grids()) {
    const double mse = measured_mse(g, x);
    EXPECT_NEAR(mse, g.mse, 0.01 * g.mse) << "p=" << g.p << " n=" << g.n;
  }
}

// Known Lloyd-Max optima for N(0, 1) (Max 1960): levels and MSE.
TEST(GaussianGrids, ScalarGridsMatchLloydMaxOptima) {
  const double half16[] = {0.1284, 0.3880, 0.6568, 0.9423, 1.2562, 1.6180, 2.0690, 2.7326};
  const sq::GaussianGrid& g16 = sq::gaussian_grid(1, 16);
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(g16.points[8 + i], half16[i], 1e-3) << i;
    EXPECT_NEAR(g16.points[7 - i], -half16[i], 1e-3) << i;
  }
  const std::pair<int, double> known[] = {{2, 0.3634}, {4, 0.1175}, {8, 0.03454}, {16, 0.009497}};
  for (auto [n, mse] : known) EXPECT_NEAR(sq::gaussian_grid(1, n).mse, mse, 0.01 * mse) << "n=" << n;
  EXPECT_NEAR(sq::gaussian_grid(1, 2).points[1], std::sqrt(2.0 / M_PI), 1e-6);  // E|X|
  EXPECT_NEAR(sq::gaussian_grid(1, 4).points[3], 1.510, 1e-3);
  EXPECT_NEAR(sq::gaussian_grid(1, 4).points[2], 0.4528, 1e-3);
}

// A 2-D grid must beat the product of 1-D grids at equal rate (vector quantization gain), or at least tie.
TEST(GaussianGrids, VectorGridsAreNoWorseThanScalarAtEqualRate) {
  EXPECT_LE(sq::gaussian_grid(2, 4).mse, sq::gaussian_grid(1, 2).mse * 1.001);
  EXPECT_LT(sq::gaussian_grid(2, 16).mse, sq::gaussian_grid(1, 4).mse);
  EXPECT_LT(sq::gaussian_grid(2, 64).mse, sq::gaussian_grid(1, 8).mse);
  EXPECT_LT(sq::gaussian_grid(2, 256).mse, sq::gaussian_grid(1, 16).mse);
}

// Also far outside the usual range (sigma 3), where the p = 2 search leaves its cell table.
TEST(GaussianGrids, NearestIsTheClosestPoint) {
  std::vector<float> x = gaussian_samples(40000, 99);
  for (size_t i = x.size() / 2; i < x.size(); ++i) x[i] *= 3.0f;
  for (const auto& g : sq::gaussian_grids()) {
    const int64_t count = int64_t(x.size()) / g.p;
    std::vector<uint8_t> codes(static_cast<size_t>(count));
    sq::gaussian_grid_nearest(g, x.data(), count, codes.data());
    for (int64_t i = 0; i < count; ++i) {
      double best = 1e300;
      for (int c = 0; c < g.n; ++c) {
        double d = 0;
        for (int k = 0; k < g.p; ++k) d += std::pow(double(x[size_t(i * g.p + k)]) - g.points[c * g.p + k], 2);
        best = std::min(best, d);
      }
      double got = 0;
      for (int k = 0; k < g.p; ++k)
        got += std::pow(double(x[size_t(i * g.p + k)]) - g.points[codes[size_t(i)] * g.p + k], 2);
      ASSERT_LE(got, best + 1e-5) << "p=" << g.p << " n=" << g.n << " i=" << i;
    }
  }
}

}  // namespace
