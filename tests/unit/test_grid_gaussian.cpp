#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/gaussian_grids.hpp"
#include "quant/grid_gaussian.hpp"
#include "quant/hadamard.hpp"
#include "util/error.hpp"

namespace {

std::vector<float> gaussian_matrix(int64_t rows, int64_t cols, uint64_t seed, float sigma = 0.02f) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = nd(gen);
  return w;
}

double rel_err(const std::vector<float>& w, const std::vector<float>& q) {
  double e = 0, r = 0;
  for (size_t i = 0; i < w.size(); ++i) e += std::pow(double(w[i]) - q[i], 2), r += double(w[i]) * w[i];
  return e / r;
}

// On a Gaussian matrix the rotated, normalized entries are ~N(0, 1): the layer's relative MSE is the grid's.
TEST(Higgs, RelativeMseOfGaussianMatrixMatchesGridMse) {
  const int64_t rows = 64, cols = 2048;
  const std::vector<float> w = gaussian_matrix(rows, cols, 1);
  for (auto [p, n] : {std::pair{1, 4}, {1, 16}, {2, 16}, {2, 64}, {2, 256}}) {
    sq::HiggsOptions o;
    o.p = p;
    o.n = n;
    o.hadamard_size = 512;
    const sq::HiggsLayer q = sq::higgs_quantize(w.data(), rows, cols, cols, o);
    const double grid_mse = sq::gaussian_grid(p, n).mse;
    EXPECT_NEAR(q.rel_mse, grid_mse, 0.03 * grid_mse) << "p=" << p << " n=" << n;
    EXPECT_NEAR(rel_err(w, q.dequant), q.rel_mse, 1e-6 * q.rel_mse);
    EXPECT_EQ(q.codes.size(), size_t(rows * cols / p));
    EXPECT_EQ(q.n_groups, cols / 512);
  }
}

// Codes and scales alone rebuild the weights, including padded columns and random signs.
TEST(Higgs, DequantizeFromCodesAndScalesWithPaddingAndSigns) {
  const int64_t rows = 17, cols = 1000;  // padded to 1024
  const std::vector<float> w = gaussian_matrix(rows, cols, 2, 1.0f);
  sq::HiggsOptions o;
  o.p = 2;
  o.n = 64;
  o.hadamard_size = 256;
  o.group_size = 128;
  o.random_signs = true;
  o.seed = 123;
  o.threads = 3;
  const sq::HiggsLayer q = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  EXPECT_EQ(q.cols_padded, 1024);
  EXPECT_EQ(q.n_groups, 8);
  EXPECT_EQ(q.options.group_size, 128);
  const std::vector<float> again = sq::higgs_dequantize(q);
  ASSERT_EQ(again.size(), q.dequant.size());
  for (size_t i = 0; i < again.size(); ++i) ASSERT_EQ(again[i], q.dequant[i]);
  // The last block holds 232 real columns and 24 zeros; the error stays grid-sized.
  EXPECT_LT(q.rel_mse, 1.2 * sq::gaussian_grid(2, 64).mse);
  // Same seed, same result; another seed, other codes.
  const sq::HiggsLayer same = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  EXPECT_EQ(same.codes, q.codes);
  o.seed = 124;
  EXPECT_NE(sq::higgs_quantize(w.data(), rows, cols, cols, o).codes, q.codes);
}

// Reference scales: every group of an h-block carries the block's ||w||_2 / sqrt(h).
TEST(Higgs, ScalesAreBlockNormsOverSqrtH) {
  const int64_t rows = 5, cols = 1024, h = 512, group = 128;
  std::vector<float> w = gaussian_matrix(rows, cols, 3);
  for (int64_t j = 0; j < 512; ++j) w[size_t(2 * cols + j)] = 0.0f;  // an all-zero block
  sq::HiggsOptions o;
  o.p = 1;
  o.n = 16;
  o.hadamard_size = h;
  o.group_size = group;
  const sq::HiggsLayer q = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / h; ++b) {
      double ss = 0;
      for (int64_t j = b * h; j < (b + 1) * h; ++j) ss += double(w[size_t(r * cols + j)]) * w[size_t(r * cols + j)];
      for (int64_t g = b * h / group; g < (b + 1) * h / group; ++g)
        EXPECT_NEAR(q.scales[size_t(g * rows + r)], std::sqrt(ss / double(h)), 1e-6);
    }
  for (int64_t j = 0; j < 512; ++j) EXPECT_EQ(q.dequant[size_t(2 * cols + j)], 0.0f);
  // Per-group norms: one scale per group, and the error is no worse on this Gaussian matrix (within noise).
  o.group_norms = true;
  const sq::HiggsLayer qg = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  EXPECT_LT(qg.rel_mse, q.rel_mse * 1.05);
  o.group_size = h;  // with one group per block the two modes coincide
  const sq::HiggsLayer a = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  o.group_norms = false;
  const sq::HiggsLayer b = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  EXPECT_EQ(a.codes, b.codes);
}

// Heavy-tailed rows (a few large outliers) still quantize sensibly: the rotation spreads the outliers.
TEST(Higgs, RotationTamesOutliers) {
  const int64_t rows = 32, cols = 1024;
  std::vector<float> w = gaussian_matrix(rows, cols, 4);
  for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + (r * 37) % cols)] = 1.0f;  // 50 sigma
  sq::HiggsOptions o;
  o.p = 2;
  o.n = 256;
  o.hadamard_size = 1024;
  const sq::HiggsLayer q = sq::higgs_quantize(w.data(), rows, cols, cols, o);
  EXPECT_LT(q.rel_mse, 2.0 * sq::gaussian_grid(2, 256).mse);
}

TEST(Higgs, RejectsBadOptionsAndNonFiniteWeights) {
  std::vector<float> w = gaussian_matrix(4, 512, 5);
  sq::HiggsOptions o;
  o.p = 3;
  EXPECT_THROW(sq::higgs_quantize(w.data(), 4, 512, 512, o), sq::Error);
  o = {};
  o.group_size = 96;
  EXPECT_THROW(sq::higgs_quantize(w.data(), 4, 512, 512, o), sq::Error);
  o = {};
  o.hadamard_size = 500;
  EXPECT_THROW(sq::higgs_quantize(w.data(), 4, 512, 512, o), sq::Error);
  o = {};
  o.n = 32;  // no p = 2 grid with 32 points is shipped
  EXPECT_THROW(sq::higgs_quantize(w.data(), 4, 512, 512, o), sq::Error);
  o = {};
  w[700] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(sq::higgs_quantize(w.data(), 4, 512, 512, o), sq::Error);
}

// The p = 1 grid as a GPTQ Grid: per-row RMS scale, values on scale * grid, one stored scale per row.
TEST(Higgs, ScalarGridAdapterForGptq) {
  const int64_t rows = 6, ncols = 128;
  const std::vector<float> w = gaussian_matrix(rows, ncols, 6);
  const sq::HiggsScalarGrid grid(16);
  EXPECT_EQ(grid.bits(), 4);
  EXPECT_EQ(grid.kind(), sq::GridKind::Gaussian);
  const auto group = grid.fit(w.data(), ncols, rows, ncols, nullptr);
  const sq::GaussianGrid& g = sq::gaussian_grid(1, 16);
  sq::QuantizedLayer layer;
  group->store(layer);
  ASSERT_EQ(layer.scales.size(), size_t(rows));
  std::vector<float> col(rows), values(rows);
  std::vector<uint8_t> codes(rows);
  double err = 0, ref = 0;
  for (int64_t j = 0; j < ncols; ++j) {
    for (int64_t r = 0; r < rows; ++r) col[size_t(r)] = w[size_t(r * ncols + j)];
    group->quantize_column(col.data(), rows, codes.data(), values.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float s = layer.scales[size_t(r)];
      ASSERT_LT(codes[size_t(r)], 16);
      ASSERT_EQ(values[size_t(r)], s * g.points[codes[size_t(r)]]);
      // Nearest level: no other level of this row is closer.
      for (int c = 0; c < 16; ++c)
        ASSERT_LE(std::abs(values[size_t(r)] - col[size_t(r)]), std::abs(s * g.points[c] - col[size_t(r)]) + 1e-7f);
      err += std::pow(double(values[size_t(r)]) - col[size_t(r)], 2);
      ref += double(col[size_t(r)]) * col[size_t(r)];
    }
  }
  EXPECT_NEAR(err / ref, g.mse, 0.25 * g.mse);  // 128 samples per row: loose
  // fp16 scale storage: every stored scale is an fp16 value.
  const sq::HiggsScalarGrid grid16(16, sq::ScaleStorage::F16);
  sq::QuantizedLayer layer16;
  grid16.fit(w.data(), ncols, rows, ncols, nullptr)->store(layer16);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_EQ(layer16.scales[size_t(r)], sq::stored_scale(layer.scales[size_t(r)], sq::ScaleStorage::F16));
    EXPECT_NEAR(layer16.scales[size_t(r)], layer.scales[size_t(r)], 1e-3 * layer.scales[size_t(r)]);
  }
}

// The HIGGS grids as knapsack options: bits include the scale overhead, and the DP spends a 3.25-bit
// average budget by giving 4-bit grids to the layers with the largest alphas.
TEST(Higgs, BitOptionsFeedTheAllocator) {
  const std::vector<sq::GaussianGrid> grids = {sq::gaussian_grid(2, 16), sq::gaussian_grid(2, 64),
                                               sq::gaussian_grid(2, 256)};
  const std::vector<sq::BitOption> opts = sq::higgs_bit_options(grids, 128, 16);
  ASSERT_EQ(opts.size(), 3u);
  EXPECT_DOUBLE_EQ(opts[0].bits_per_weight, 2.125);
  EXPECT_DOUBLE_EQ(opts[2].bits_per_weight, 4.125);
  EXPECT_EQ(opts[1].mse, grids[1].mse);
  sq::BitAllocationProblem p;
  p.alphas = {1.0, 8.0, 2.0, 8.0};
  p.numel = {4096, 4096, 4096, 4096};
  p.options = {opts};
  p.budget_bits = 4 * 4096 * 3.375;  // = two layers at 4.125 bits and two at 2.625 on average
  const sq::BitAllocation a = sq::allocate_bits(p);
  EXPECT_TRUE(a.exact);
  EXPECT_LE(a.total_bits, p.budget_bits);
  EXPECT_EQ(a.choice[1], 2);  // the two sensitive layers get the 4-bit grid
  EXPECT_EQ(a.choice[3], 2);
  EXPECT_THROW(sq::higgs_bit_options(grids, 0), sq::Error);
}

}  // namespace
