#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "quant/kmeans_1d.hpp"
#include "util/error.hpp"

namespace {

// Weighted sum of squares of a set of points around their weighted mean (0 for zero total weight).
double segment_cost(const std::vector<std::pair<float, float>>& pts, size_t begin, size_t end) {
  double w = 0, s = 0;
  for (size_t i = begin; i < end; ++i) {
    w += pts[i].second;
    s += double(pts[i].second) * pts[i].first;
  }
  if (w <= 0) return 0.0;
  const double mean = s / w;
  double c = 0;
  for (size_t i = begin; i < end; ++i) c += pts[i].second * (pts[i].first - mean) * (pts[i].first - mean);
  return c;
}

// Optimum by enumerating every split of the sorted points into at most k contiguous runs (1-D k-means
// optima are contiguous, so this is the global optimum).
double brute_force(const std::vector<float>& x, const std::vector<float>& w, int k) {
  std::vector<std::pair<float, float>> pts;
  for (size_t i = 0; i < x.size(); ++i) pts.emplace_back(x[i], w[i]);
  std::sort(pts.begin(), pts.end());
  const size_t n = pts.size();
  double best = INFINITY;
  // Each of the n-1 gaps is cut or not; keep masks with at most k-1 cuts.
  for (uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {
    if (__builtin_popcount(mask) > k - 1) continue;
    double c = 0;
    size_t begin = 0;
    for (size_t g = 0; g + 1 < n; ++g)
      if (mask & (1u << g)) {
        c += segment_cost(pts, begin, g + 1);
        begin = g + 1;
      }
    c += segment_cost(pts, begin, n);
    best = std::min(best, c);
  }
  return best;
}

struct RandomCase {
  std::vector<float> x, w;
};

RandomCase random_case(std::mt19937& rng, int n) {
  RandomCase c;
  std::uniform_int_distribution<int> kind(0, 3);
  const int mode = kind(rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-3, 3);
  std::uniform_real_distribution<float> uw(0.0f, 2.0f);
  for (int i = 0; i < n; ++i) {
    c.x.push_back(mode == 0 ? float(small(rng)) * 0.25f : normal(rng));   // mode 0: many duplicates
    float wi = uw(rng);
    if (mode == 1 && i % 3 == 0) wi = 0.0f;                              // mode 1: zero weights
    if (mode == 2) wi = 1.0f;
    c.w.push_back(wi);
  }
  return c;
}

TEST(KMeans1d, ExactMatchesBruteForceOnSmallInputs) {
  std::mt19937 rng(1234);
  int checked = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const int n = 1 + trial % 12;
    const int k = 2 + trial % 3;
    const RandomCase c = random_case(rng, n);
    sq::KMeans1dOptions opt;
    opt.method = sq::KMeans1dMethod::Exact;
    const sq::KMeans1dResult r = sq::kmeans_1d(c.x.data(), c.w.data(), n, k, opt);
    ASSERT_EQ(int(r.centroids.size()), k);
    ASSERT_TRUE(std::is_sorted(r.centroids.begin(), r.centroids.end()));
    double total_w = 0;
    for (float v : c.w) total_w += v;
    std::vector<float> w_eff = c.w;
    if (total_w == 0) std::fill(w_eff.begin(), w_eff.end(), 1.0f);  // all-zero weights mean equal weights
    const double best = brute_force(c.x, w_eff, k);
    const double direct = sq::kmeans_1d_cost(c.x.data(), w_eff.data(), n, r.centroids.data(), k);
    const double tol = 1e-5 * (1.0 + best);
    ASSERT_NEAR(direct, best, tol) << "trial " << trial << " n " << n << " k " << k;
    ASSERT_NEAR(r.cost, best, tol) << "trial " << trial;
    ++checked;
  }
  EXPECT_EQ(checked, 600);
}

TEST(KMeans1d, DefaultAndLloydOnSmallInputsAreNeverBelowTheOptimum) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + trial % 12;
    const int k = 2 + trial % 3;
    RandomCase c = random_case(rng, n);
    for (float& v : c.w) v = std::max(v, 0.01f);
    const double best = brute_force(c.x, c.w, k);
    for (auto method : {sq::KMeans1dMethod::Lloyd, sq::KMeans1dMethod::CoarseLloyd}) {
      sq::KMeans1dOptions opt;
      opt.method = method;
      const sq::KMeans1dResult r = sq::kmeans_1d(c.x.data(), c.w.data(), n, k, opt);
      const double direct = sq::kmeans_1d_cost(c.x.data(), c.w.data(), n, r.centroids.data(), k);
      EXPECT_GE(direct, best - 1e-5 * (1.0 + best));
      EXPECT_NEAR(direct, r.cost, 1e-5 * (1.0 + direct));
    }
  }
}

// Rows shaped like LLM weights: Gaussian bulk, a few outliers, bf16-like duplicates in half the rows,
// heavy-tailed importance weights.
std::vector<float> weight_like_row(std::mt19937& rng, int n, bool coarse) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) {
    v = normal(rng);
    if (u(rng) < 0.002f) v *= 8.0f;
    if (coarse) v = std::round(v * 512.0f) / 512.0f;
  }
  return x;
}

std::vector<float> importance_like(std::mt19937& rng, int n) {
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  std::vector<float> s(static_cast<size_t>(n));
  for (float& v : s) v = std::pow(u(rng), -4.0f);
  return s;
}

TEST(KMeans1d, LloydAndDefaultStayCloseToExact) {
  std::mt19937 rng(7);
  for (int k : {4, 8, 16}) {
    double lloyd_sum = 0, lloyd_max = 0, coarse_sum = 0, coarse_max = 0, quantile_sum = 0, quantile_max = 0;
    const int rows = 20;
    for (int row = 0; row < rows; ++row) {
      const int n = 1024 + 97 * row;
      const std::vector<float> x = weight_like_row(rng, n, row % 2 == 0);
      const std::vector<float> s = importance_like(rng, n);
      sq::KMeans1dOptions exact_opt, lloyd_opt, coarse_opt, quantile_opt;
      exact_opt.method = sq::KMeans1dMethod::Exact;
      lloyd_opt.method = sq::KMeans1dMethod::Lloyd;
      quantile_opt.method = sq::KMeans1dMethod::Lloyd;
      quantile_opt.init = sq::KMeans1dInit::Quantile;
      const double exact = sq::kmeans_1d(x.data(), s.data(), n, k, exact_opt).cost;
      const double lloyd = sq::kmeans_1d(x.data(), s.data(), n, k, lloyd_opt).cost;
      const double coarse = sq::kmeans_1d(x.data(), s.data(), n, k, coarse_opt).cost;
      const double quantile = sq::kmeans_1d(x.data(), s.data(), n, k, quantile_opt).cost;
      ASSERT_GT(exact, 0.0);
      EXPECT_GE(quantile, exact * (1 - 1e-9));
      quantile_sum += quantile / exact - 1;
      quantile_max = std::max(quantile_max, quantile / exact - 1);
      EXPECT_GE(lloyd, exact * (1 - 1e-9));
      EXPECT_GE(coarse, exact * (1 - 1e-9));
      lloyd_sum += lloyd / exact - 1;
      lloyd_max = std::max(lloyd_max, lloyd / exact - 1);
      coarse_sum += coarse / exact - 1;
      coarse_max = std::max(coarse_max, coarse / exact - 1);
      // Plain Lloyd is local: on rows with outliers linspace/quantile starts leave it several times above the
      // optimum (printed below), which is why the default warm-starts it from an exact coarse solution.
      EXPECT_LE(lloyd, 8.0 * exact) << "k " << k << " row " << row;
      EXPECT_LE(coarse, 1.01 * exact) << "k " << k << " row " << row;
    }
    std::printf("[ gap vs exact ] k=%2d  Lloyd(auto init) mean %.2f%% max %.2f%%  Lloyd(quantile) mean %.2f%% max %.2f%%"
                "  coarse-exact+Lloyd mean %.5f%% max %.5f%%\n", k, 100 * lloyd_sum / rows, 100 * lloyd_max,
                100 * quantile_sum / rows, 100 * quantile_max, 100 * coarse_sum / rows, 100 * coarse_max);
  }
}

TEST(KMeans1d, DegenerateInputs) {
  const int k = 4;
  // Fewer distinct values than centroids: each value is a centroid, zero cost.
  const std::vector<float> few = {0.5f, -1.0f, 0.5f};
  for (auto method : {sq::KMeans1dMethod::Exact, sq::KMeans1dMethod::Lloyd, sq::KMeans1dMethod::CoarseLloyd}) {
    sq::KMeans1dOptions opt;
    opt.method = method;
    sq::KMeans1dResult r = sq::kmeans_1d(few.data(), nullptr, 3, k, opt);
    ASSERT_EQ(r.centroids.size(), size_t(k));
    EXPECT_EQ(r.centroids[0], -1.0f);
    EXPECT_EQ(r.centroids[1], 0.5f);
    EXPECT_EQ(r.cost, 0.0);
    // Constant row.
    const std::vector<float> flat(100, 0.25f);
    r = sq::kmeans_1d(flat.data(), nullptr, 100, k, opt);
    for (float c : r.centroids) EXPECT_EQ(c, 0.25f);
    // Empty input.
    r = sq::kmeans_1d(flat.data(), nullptr, 0, k, opt);
    EXPECT_EQ(r.centroids.size(), size_t(k));
    // All weights zero: treated as equal weights (the centroid of one cluster is the plain mean).
    const std::vector<float> x = {1, 2, 3, 10};
    const std::vector<float> zero_w(4, 0.0f);
    r = sq::kmeans_1d(x.data(), zero_w.data(), 4, 1, opt);
    EXPECT_FLOAT_EQ(r.centroids[0], 4.0f);
  }
  // Zero-weight points do not pull centroids.
  const std::vector<float> x = {0, 0, 1, 100};
  const std::vector<float> w = {1, 1, 1, 0};
  sq::KMeans1dResult r = sq::kmeans_1d(x.data(), w.data(), 4, 1);
  EXPECT_FLOAT_EQ(r.centroids[0], 1.0f / 3.0f);
}

TEST(KMeans1d, RejectsNonFiniteInput) {
  const std::vector<float> x = {0, NAN, 1};
  try {
    sq::kmeans_1d(x.data(), nullptr, 3, 2);
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_NUMERIC);
  }
  const std::vector<float> ok = {0, 1, 2};
  const std::vector<float> bad_w = {1, -1, 1};
  EXPECT_THROW(sq::kmeans_1d(ok.data(), bad_w.data(), 3, 2), sq::Error);
}

}  // namespace
