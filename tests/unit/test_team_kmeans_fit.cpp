// The portable CLAQ column fit (kernels/portable/team_kmeans_fit.hpp), run by host teams, against the CPU grid
// ColumnKMeansGrid::fit: the same levels and reserved rows bit for bit. The CUDA kernel runs this same source
// with one thread block per column, so what is checked here is the device's arithmetic and its phase
// structure: teams of different sizes, running each phase's items forwards or backwards, must agree, which
// they would not if an item read what another item of its phase writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "host_team.hpp"
#include "portable/team_kmeans_fit.hpp"
#include "quant/grid_column_kmeans.hpp"
#include "quant/kmeans_1d.hpp"

namespace {

using sqtest::HostTeam;

struct Fit {
  std::vector<float> levels;
  std::vector<int32_t> reserved;
};

// Fits column `column` of the row-major rows x cols matrix w, as the kernel reads it (strided).
Fit portable_fit(HostTeam team, const std::vector<float>& w, int rows, int cols, int column, int bits, int reserve) {
  const int levels = 1 << bits;
  std::vector<double> scratch(size_t(sq::team_kmeans_bytes(rows, levels) / 8), std::nan(""));
  Fit f{std::vector<float>(size_t(levels), -7.0f), std::vector<int32_t>(size_t(2 * reserve), -1)};
  sq::team_kmeans_fit(team, w.data() + column, cols, nullptr, rows, levels, reserve, sq::TeamKMeansOptions{},
                      scratch.data(), f.levels.data(), f.reserved.data());
  return f;
}

Fit cpu_fit(const std::vector<float>& w, int rows, int cols, int column, int bits, int reserve) {
  std::vector<float> x(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) x[size_t(r)] = w[size_t(r) * size_t(cols) + size_t(column)];
  sq::ColumnKMeansGrid grid(rows, {uint8_t(bits)}, {reserve});
  grid.fit(0, x.data(), rows);
  return Fit{std::vector<float>(grid.levels(0), grid.levels(0) + (1 << bits)), grid.reserved_rows(0)};
}

void expect_same(const std::vector<float>& w, int rows, int cols, int column, int bits, int reserve,
                 HostTeam team = {}) {
  const Fit ref = cpu_fit(w, rows, cols, column, bits, reserve);
  const Fit got = portable_fit(team, w, rows, cols, column, bits, reserve);
  ASSERT_EQ(got.levels.size(), ref.levels.size());
  for (size_t c = 0; c < ref.levels.size(); ++c)
    ASSERT_EQ(got.levels[c], ref.levels[c]) << "rows " << rows << " bits " << bits << " reserve " << reserve
                                            << " team " << team.threads << (team.backwards ? " backwards" : "")
                                            << " level " << c;
  EXPECT_EQ(got.reserved, ref.reserved) << "rows " << rows << " reserve " << reserve;
}

// A layer's worth of columns: normal weights, a few large outliers, some columns rounded to bf16 (repeated
// values), shifted off centre (the prefix sums depend on the midpoint shift).
std::vector<float> make_columns(int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> w(size_t(rows) * size_t(cols));
  for (auto& v : w) v = 0.02f * normal(rng);
  for (int c = 0; c < cols; ++c) {
    for (int t = 0; t < 3; ++t) w[size_t(rng() % uint32_t(rows)) * size_t(cols) + size_t(c)] *= 60.0f;
    if (c % 3 == 1)
      for (int r = 0; r < rows; ++r) {
        float& v = w[size_t(r) * size_t(cols) + size_t(c)];
        uint32_t b;
        std::memcpy(&b, &v, 4);
        b &= 0xffff0000u;
        std::memcpy(&v, &b, 4);
      }
    if (c % 4 == 2)
      for (int r = 0; r < rows; ++r) w[size_t(r) * size_t(cols) + size_t(c)] += 0.5f;
  }
  return w;
}

}  // namespace

// Columns of up to 512 distinct values: the exact program alone (no coarse bins, no Lloyd steps).
TEST(TeamKMeansFit, MatchesTheCpuGridOnShortColumns) {
  for (int rows : {1, 2, 5, 33, 64, 200, 512}) {
    const std::vector<float> w = make_columns(rows, 3, uint32_t(rows));
    for (int bits : {1, 2, 3, 4})
      for (int column = 0; column < 3; ++column) expect_same(w, rows, 3, column, bits, 0);
  }
}

// Taller columns: coarse bins (closed by count or by span), the program on the bins, then Lloyd steps on
// every point, with and without reserved outliers.
TEST(TeamKMeansFit, MatchesTheCpuGridOnTallColumnsWithReservedOutliers) {
  for (int rows : {513, 1000, 2048, 4099}) {
    const std::vector<float> w = make_columns(rows, 4, uint32_t(7 * rows));
    for (int bits : {2, 3, 4})
      for (int column = 0; column < 4; ++column)
        for (int reserve : {0, 1, rows / 100 + 2}) expect_same(w, rows, 4, column, bits, reserve);
  }
}

// An LLM layer's height, and 8 bits (256 levels: 1024 coarse bins).
TEST(TeamKMeansFit, MatchesTheCpuGridAtLayerHeightAndEightBits) {
  const std::vector<float> w = make_columns(14336, 2, 5);
  expect_same(w, 14336, 2, 0, 4, 14);
  expect_same(w, 14336, 2, 1, 2, 0);
  const std::vector<float> small = make_columns(3000, 1, 9);
  expect_same(small, 3000, 1, 0, 8, 3);
}

// Clumped columns (tight clusters of values far apart) with many levels leave Lloyd clusters empty, so the
// fit moves those centroids into the costliest clusters (KMeans1dSolver::relocate_empty).
TEST(TeamKMeansFit, MatchesTheCpuGridWhereLloydRelocatesEmptyClusters) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> unit;
  for (int trial = 0; trial < 12; ++trial) {
    const int rows = 1100 + int(rng() % 2000), clumps = 10 + int(rng() % 30);
    std::vector<float> centre(static_cast<size_t>(clumps)), width(static_cast<size_t>(clumps)), w(static_cast<size_t>(rows));
    for (int c = 0; c < clumps; ++c) {
      centre[size_t(c)] = 100.0f * normal(rng);
      width[size_t(c)] = std::pow(10.0f, -4.0f + 4.0f * unit(rng));
    }
    for (auto& v : w) {
      const size_t c = rng() % uint32_t(clumps);
      v = centre[c] + width[c] * normal(rng);
      if (unit(rng) < 0.01f) v = 1000.0f * normal(rng);
    }
    expect_same(w, rows, 1, 0, 6 + trial % 3, trial % 2);
  }
}

// The result cannot depend on how a phase's items are spread over threads.
TEST(TeamKMeansFit, TeamsOfAnySizeInAnyOrderAgree) {
  const std::vector<float> w = make_columns(2500, 2, 21);
  for (int threads : {1, 7, 32, 1024})
    for (bool backwards : {false, true}) {
      HostTeam team{threads, backwards};
      expect_same(w, 2500, 2, 0, 3, 4, team);
      expect_same(w, 2500, 2, 1, 2, 0, team);
    }
}

// Degenerate columns: all equal (one distinct value), fewer distinct values than levels, exact ties at the
// reservation boundary (broken by row, as the CPU grid does), zeros.
TEST(TeamKMeansFit, MatchesTheCpuGridOnDegenerateColumns) {
  const int rows = 700;
  std::vector<float> w(size_t(rows) * 4);
  for (int r = 0; r < rows; ++r) {
    w[size_t(r) * 4 + 0] = 0.25f;
    w[size_t(r) * 4 + 1] = float(r % 3) - 1.0f;
    w[size_t(r) * 4 + 2] = r % 50 == 0 ? 9.0f : (r % 50 == 1 ? -9.0f : float(r % 7) * 0.125f);
    w[size_t(r) * 4 + 3] = 0.0f;
  }
  for (int column = 0; column < 4; ++column)
    for (int bits : {1, 2, 4})
      for (int reserve : {0, 5, 20}) expect_same(w, rows, 4, column, bits, reserve);
}

// A column holding a non-finite value gets NaN levels (the device's error signal); the CPU grid throws.
TEST(TeamKMeansFit, NonFiniteColumnsAreReported) {
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    std::vector<float> w = make_columns(600, 1, 3);
    w[17] = bad;
    const Fit got = portable_fit(HostTeam{}, w, 600, 1, 0, 2, 3);  // the inf would be among the reserved
    for (float v : got.levels) EXPECT_TRUE(std::isnan(v));
    sq::ColumnKMeansGrid grid(600, {2}, {3});
    EXPECT_THROW(grid.fit(0, w.data(), 600), std::exception);
  }
}

// The scratch it asks for covers every array it writes (the buffer is NaN-filled and sized exactly; an
// overrun would land past the end, which the ASan build reports).
TEST(TeamKMeansFit, ScratchGrowsWithRowsAndLevels) {
  EXPECT_LT(sq::team_kmeans_bytes(1000, 4), sq::team_kmeans_bytes(2000, 4));
  EXPECT_LT(sq::team_kmeans_bytes(1000, 4), sq::team_kmeans_bytes(1000, 256));
  EXPECT_EQ(sq::team_kmeans_bytes(1000, 4) % 8, 0);
}

// LeanQuant's LUT rows over wide groups: importance weights spanning orders of magnitude, some zero, or all
// zero (then every point counts as one, as the CPU solver does).
TEST(TeamKMeansFit, MatchesTheCpuSolverOnWeightedRows) {
  std::mt19937 rng(41);
  std::normal_distribution<float> normal;
  for (int width : {300, 513, 1024, 4096})
    for (int levels : {4, 16, 256})
      for (int weights = 0; weights < 3; ++weights) {
        const std::vector<float> x = make_columns(width, 1, uint32_t(width + levels));
        std::vector<float> w(static_cast<size_t>(width));
        for (auto& v : w) v = weights == 2 ? 0.0f : std::exp(2.0f * normal(rng));
        if (weights == 1)
          for (size_t i = 0; i < w.size(); i += 5) w[i] = 0.0f;
        const sq::KMeans1dResult ref = sq::kmeans_1d(x.data(), w.data(), width, levels);
        for (int threads : {1, 256}) {
          HostTeam team{threads, threads == 1};
          std::vector<double> scratch(size_t(sq::team_kmeans_bytes(width, levels) / 8), std::nan(""));
          std::vector<float> got(static_cast<size_t>(levels), -7.0f);
          sq::team_kmeans_fit(team, x.data(), 1, w.data(), width, levels, 0, sq::TeamKMeansOptions{}, scratch.data(),
                              got.data(), nullptr);
          for (int c = 0; c < levels; ++c)
            ASSERT_EQ(got[size_t(c)], ref.centroids[size_t(c)])
                << "width " << width << " levels " << levels << " weights " << weights << " level " << c;
        }
      }
}

TEST(TeamKMeansFit, NegativeOrNonFiniteWeightsAreReported) {
  const std::vector<float> x = make_columns(600, 1, 4);
  for (float bad : {-1.0f, NAN, INFINITY}) {
    std::vector<float> w(600, 1.0f);
    w[9] = bad;
    std::vector<double> scratch(size_t(sq::team_kmeans_bytes(600, 4) / 8));
    std::vector<float> got(4);
    HostTeam team;
    sq::team_kmeans_fit(team, x.data(), 1, w.data(), 600, 4, 0, sq::TeamKMeansOptions{}, scratch.data(), got.data(),
                        nullptr);
    for (float v : got) EXPECT_TRUE(std::isnan(v));
  }
}
