#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "quant/grid_loss_aware_affine.hpp"
#include "quant/grid_lut_kmeans.hpp"
#include "quant/grids.hpp"
#include "util/half.hpp"

namespace {

// GPTQ's min-max affine grid, written out independently: the range widened to include 0, then
// scale = (max - min) / maxq, zero = round(-min / scale); symmetric: scale = 2 max|w| / maxq, zero = 2^(b-1).
double min_max_weighted_loss(const float* w, const float* s, int64_t n, int bits, bool sym) {
  const float maxq = float((1 << bits) - 1);
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  float scale, zero;
  if (sym) {
    const float amax = std::max(-lo, hi) == 0 ? 1.0f : std::max(-lo, hi);
    scale = 2 * amax / maxq;
    zero = float(1 << (bits - 1));
  } else {
    if (lo == 0 && hi == 0) lo = -1, hi = 1;
    scale = (hi - lo) / maxq;
    zero = std::nearbyint(-lo / scale);
  }
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float q = std::min(std::max(std::nearbyint(w[i] / scale) + zero, 0.0f), maxq);
    const double d = double(w[i]) - double(scale * (q - zero));
    loss += s[i] * d * d;
  }
  return loss;
}

struct Block {
  int64_t rows, cols;
  std::vector<float> w, s;
};

Block make_block(std::mt19937& rng, int64_t rows, int64_t cols) {
  Block b{rows, cols, std::vector<float>(size_t(rows * cols)), std::vector<float>(size_t(cols))};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float row_scale = 0.01f + 0.05f * u(rng);
    const float shift = (r % 5 == 0) ? 0.03f : 0.0f;  // some rows are off-centre
    for (int64_t j = 0; j < cols; ++j) {
      float v = normal(rng) * row_scale + shift;
      if (u(rng) < 0.005f) v *= 6.0f;  // outliers
      b.w[size_t(r * cols + j)] = v;
    }
  }
  for (float& v : b.s) v = std::pow(0.5f + u(rng), -4.0f);  // s_j = d_j^-4 with d_j in [0.5, 1.5]
  return b;
}

// Weighted loss of the grid's own rounding: fit, then quantize every column through the GroupGrid.
double grid_loss(const sq::Grid& grid, const Block& b, std::vector<double>* per_row = nullptr) {
  const auto g = grid.fit(b.w.data(), b.cols, b.rows, b.cols, b.s.data());
  std::vector<float> col(size_t(b.rows)), values(size_t(b.rows));
  std::vector<uint8_t> codes(size_t(b.rows));
  std::vector<double> rows(size_t(b.rows), 0.0);
  for (int64_t j = 0; j < b.cols; ++j) {
    for (int64_t r = 0; r < b.rows; ++r) col[size_t(r)] = b.w[size_t(r * b.cols + j)];
    g->quantize_column(col.data(), b.rows, codes.data(), values.data());
    for (int64_t r = 0; r < b.rows; ++r) {
      const double d = double(col[size_t(r)]) - values[size_t(r)];
      rows[size_t(r)] += b.s[size_t(j)] * d * d;
    }
  }
  double total = 0;
  for (double v : rows) total += v;
  if (per_row) *per_row = rows;
  return total;
}

TEST(LossAwareAffine, NeverWorseThanMinMaxOnAnyRow) {
  std::mt19937 rng(21);
  for (bool sym : {false, true}) {
    for (int bits : {2, 3, 4, 8}) {
      const Block b = make_block(rng, 64, 128);
      // fp32 scales: min_max_weighted_loss is the fp32 convention.
      const auto grid = sq::make_loss_aware_affine_grid(bits, sym, sq::ScaleStorage::F32);
      EXPECT_EQ(grid->kind(), sq::GridKind::Affine);
      std::vector<double> per_row;
      grid_loss(*grid, b, &per_row);
      double ratio_sum = 0;
      for (int64_t r = 0; r < b.rows; ++r) {
        const double mm = min_max_weighted_loss(&b.w[size_t(r * b.cols)], b.s.data(), b.cols, bits, sym);
        ASSERT_LE(per_row[size_t(r)], mm * (1 + 1e-12)) << "bits " << bits << " sym " << sym << " row " << r;
        ratio_sum += per_row[size_t(r)] / mm;
      }
      std::printf("[ loss-aware / min-max ] bits %d %s: mean weighted-loss ratio %.3f\n", bits,
                  sym ? "sym " : "asym", ratio_sum / double(b.rows));
      if (bits <= 3) {
        EXPECT_LT(ratio_sum / double(b.rows), 0.99);  // the search does find better grids
      }
    }
  }
}

TEST(LossAwareAffine, GridStoresIntegerZerosAndConsistentValues) {
  std::mt19937 rng(22);
  const Block b = make_block(rng, 16, 96);
  for (bool sym : {false, true}) {
    const auto grid = sq::make_loss_aware_affine_grid(3, sym);
    const auto g = grid->fit(b.w.data(), b.cols, b.rows, b.cols, nullptr);  // no importance: ones
    sq::QuantizedLayer layer;
    g->store(layer);
    ASSERT_EQ(layer.scales.size(), size_t(b.rows));
    ASSERT_EQ(layer.zeros.size(), size_t(b.rows));
    for (size_t r = 0; r < layer.zeros.size(); ++r) {
      EXPECT_EQ(layer.zeros[r], std::floor(layer.zeros[r]));
      EXPECT_GE(layer.zeros[r], 0.0f);
      EXPECT_LE(layer.zeros[r], 7.0f);
      EXPECT_GT(layer.scales[r], 0.0f);
      if (sym) {
        EXPECT_EQ(layer.zeros[r], 4.0f);
      }
    }
    std::vector<float> col(size_t(b.rows)), values(size_t(b.rows));
    std::vector<uint8_t> codes(size_t(b.rows));
    for (int64_t r = 0; r < b.rows; ++r) col[size_t(r)] = b.w[size_t(r * b.cols + 5)];
    g->quantize_column(col.data(), b.rows, codes.data(), values.data());
    for (int64_t r = 0; r < b.rows; ++r) {
      EXPECT_LE(codes[size_t(r)], 7);
      EXPECT_EQ(values[size_t(r)], layer.scales[size_t(r)] * (float(codes[size_t(r)]) - layer.zeros[size_t(r)]));
    }
  }
  // All-zero rows get a valid grid on which 0 is exact.
  const std::vector<float> zeros(32, 0.0f);
  const auto p = sq::affine_search::fit_row(zeros.data(), nullptr, 32, sq::LossAwareAffineOptions{});
  EXPECT_GT(p.scale, 0.0f);
  EXPECT_EQ(sq::affine_search::weighted_loss(zeros.data(), nullptr, 32, p, 4), 0.0);
}

// The search ranks candidates with fast sums (a direct SIMD pass on short rows, sorted prefix sums on long
// ones); check its pick against every candidate scored by the plain double loop.
TEST(LossAwareAffine, PicksTheBestCandidateOnShortAndLongRows) {
  std::mt19937 rng(23);
  for (int64_t n : {100, 128, 1000, 4096}) {
    for (int bits : {2, 3, 4}) {
      for (auto storage : {sq::ScaleStorage::F16, sq::ScaleStorage::F32}) {
        const Block b = make_block(rng, 1, n);
        sq::LossAwareAffineOptions o;
        o.bits = bits;
        o.scale_storage = storage;
        const auto pick = sq::affine_search::fit_row(b.w.data(), b.s.data(), n, o);
        const double picked = sq::affine_search::weighted_loss(b.w.data(), b.s.data(), n, pick, bits);
        float lo = 0, hi = 0;
        for (float v : b.w) lo = std::min(lo, v), hi = std::max(hi, v);
        double best = INFINITY;
        for (int i = 0; i < o.shrink_steps; ++i)
          for (int j = 0; j < o.shrink_steps; ++j) {
            const float fa = i == 0 ? 1.0f : 1.0f - (1.0f - o.min_factor) * float(i) / float(o.shrink_steps - 1);
            const float fc = j == 0 ? 1.0f : 1.0f - (1.0f - o.min_factor) * float(j) / float(o.shrink_steps - 1);
            const auto p = sq::affine_search::from_range(lo * fa, hi * fc, bits, false, storage);
            best = std::min(best, sq::affine_search::weighted_loss(b.w.data(), b.s.data(), n, p, bits));
          }
        EXPECT_LE(picked, best * (1 + 1e-9)) << "n " << n << " bits " << bits;
        if (storage == sq::ScaleStorage::F16) {
          EXPECT_EQ(sq::half_to_float(sq::float_to_half(pick.scale)), pick.scale);
        }
      }
    }
  }
}

TEST(LutKMeansGrid, RoundsToTheNearestLevelOfEachRow) {
  std::mt19937 rng(31);
  const Block b = make_block(rng, 24, 200);
  for (int bits : {2, 3, 4}) {
    const auto grid = sq::make_lut_kmeans_grid(bits);
    EXPECT_EQ(grid->kind(), sq::GridKind::Lut);
    EXPECT_EQ(grid->bits(), bits);
    const auto g = grid->fit(b.w.data(), b.cols, b.rows, b.cols, b.s.data());
    sq::QuantizedLayer layer;
    g->store(layer);
    const int levels = 1 << bits;
    ASSERT_EQ(layer.lut.size(), size_t(b.rows * levels));
    for (int64_t r = 0; r < b.rows; ++r)
      EXPECT_TRUE(std::is_sorted(layer.lut.begin() + r * levels, layer.lut.begin() + (r + 1) * levels));
    std::vector<float> col(size_t(b.rows)), values(size_t(b.rows));
    std::vector<uint8_t> codes(size_t(b.rows));
    for (int64_t j = 0; j < b.cols; j += 7) {
      for (int64_t r = 0; r < b.rows; ++r) col[size_t(r)] = b.w[size_t(r * b.cols + j)];
      g->quantize_column(col.data(), b.rows, codes.data(), values.data());
      for (int64_t r = 0; r < b.rows; ++r) {
        const float* lv = &layer.lut[size_t(r * levels)];
        ASSERT_EQ(values[size_t(r)], lv[codes[size_t(r)]]);
        double best = INFINITY;
        for (int c = 0; c < levels; ++c) best = std::min(best, std::fabs(double(col[size_t(r)]) - lv[c]));
        ASSERT_EQ(std::fabs(double(col[size_t(r)]) - values[size_t(r)]), best);
      }
    }
  }
}

TEST(LutKMeansGrid, BeatsLossAwareAffineOnAverageAtLowBits) {
  std::mt19937 rng(41);
  for (int bits : {2, 3}) {
    double lut_total = 0, affine_total = 0;
    for (int trial = 0; trial < 4; ++trial) {
      const Block b = make_block(rng, 32, 256);
      lut_total += grid_loss(*sq::make_lut_kmeans_grid(bits), b);
      affine_total += grid_loss(*sq::make_loss_aware_affine_grid(bits, false), b);
    }
    std::printf("[ LUT / loss-aware affine ] bits %d: weighted loss ratio %.3f\n", bits, lut_total / affine_total);
    EXPECT_LE(lut_total, affine_total) << "bits " << bits;
  }
}

TEST(LutKMeansGrid, NearestLevelTiesAndEnds) {
  const float levels[4] = {-1.0f, 0.0f, 0.0f, 2.0f};
  EXPECT_EQ(sq::nearest_level(levels, 4, -5.0f), 0);
  EXPECT_EQ(sq::nearest_level(levels, 4, 9.0f), 3);
  EXPECT_EQ(sq::nearest_level(levels, 4, -0.5f), 0);  // tie: lower level
  EXPECT_EQ(levels[sq::nearest_level(levels, 4, 0.1f)], 0.0f);
  EXPECT_EQ(sq::nearest_level(levels, 4, 1.5f), 3);
}

}  // namespace
