// Weighted 1-D k-means: k centroids minimizing sum_i w_i * min_c (x_i - c)^2.
//
// Used per output row by the LeanQuant LUT grid, so a 7B model calls it ~10^6 times on rows of 4k-11k
// values. In 1-D the optimal clusters are contiguous runs of the sorted values, which allows an exact
// dynamic program and an O(k log n) Lloyd iteration on prefix sums. All solvers first sort the values,
// merge duplicates (fp16/bf16 rows repeat values a lot) and drop zero-weight points (they cannot change
// the objective).
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

// Default chosen by bench/bench_kmeans.cpp (bench/KMEANS_BENCH.md; AMD EPYC, shared 2 cores, n = 4096 and
// 11008, k = 4/8/16, CPU time per row): Exact 0.36-6.7 ms; Lloyd 0.14-1.1 ms but 2%-650% above the optimum
// on rows with outliers; CoarseLloyd 0.27-1.15 ms and within 0.05% of the optimum.
enum class KMeans1dMethod {
  Exact,        // dynamic program over contiguous segments, divide-and-conquer optimization
  Lloyd,        // Lloyd iterations from `init`
  CoarseLloyd,  // exact program on `coarse_bins` equal-count bins, then Lloyd on all points (default)
};

enum class KMeans1dInit {
  Auto,      // linspace for k <= 8 (b <= 3), weighted quantiles above
  Linspace,  // k evenly spaced centroids from min to max
  Quantile,  // centroid i at the weighted (i + 0.5) / k quantile
};

struct KMeans1dOptions {
  KMeans1dMethod method = KMeans1dMethod::CoarseLloyd;
  KMeans1dInit init = KMeans1dInit::Auto;
  int max_iter = 100;
  double tol = 1e-6;      // stop when no centroid moves more than tol * (max - min)
  int coarse_bins = 512;  // CoarseLloyd: number of bins of the exact warm start (at least 4 k are used)
};

struct KMeans1dResult {
  std::vector<float> centroids;  // exactly k, ascending (repeated when there are fewer distinct values)
  double cost = 0.0;             // sum_i w_i (x_i - nearest centroid)^2, evaluated on the float centroids
  int iterations = 0;            // Lloyd iterations run (0 for Exact)
};

// Reusable solver: keeps its buffers between calls, so one instance per thread avoids per-row allocation.
// Not thread-safe; use one per thread.
class KMeans1dSolver {
 public:
  explicit KMeans1dSolver(KMeans1dOptions options = {}) : options_(options) {}

  // x: n values; w: n non-negative weights or null (all ones). k >= 1. When every weight is zero the
  // points are treated as equally weighted. Throws SQ_ERR_NUMERIC on NaN/Inf values or weights.
  KMeans1dResult solve(const float* x, const float* w, int64_t n, int k);

  const KMeans1dOptions& options() const { return options_; }

 private:
  void prepare(const float* x, const float* w, int64_t n);
  void exact(int k, const double* wsum, const double* ssum, const double* qsum, int64_t m,
             std::vector<double>& centroids);
  void lloyd(int k, std::vector<double>& centroids, int& iterations);
  bool relocate_empty(int k, std::vector<double>& centroids);
  void init_centroids(int k, std::vector<double>& centroids) const;
  double cost_of(const std::vector<double>& centroids) const;

  KMeans1dOptions options_;
  // Sorted distinct points (values shifted by `shift_` for precision) and their prefix sums.
  std::vector<std::pair<float, float>> pairs_;
  std::vector<double> xs_;
  std::vector<double> pw_, ps_, pq_;  // prefix sums of w, w*x, w*x^2, size m + 1
  double shift_ = 0.0;
  // Exact-solver workspace.
  std::vector<double> prev_, cur_;
  std::vector<int32_t> argmin_;
  // Coarse bins (prefix sums over bins).
  std::vector<double> bw_, bs_, bq_;
  std::vector<int64_t> seg_end_;
};

// One-shot convenience wrapper.
KMeans1dResult kmeans_1d(const float* x, const float* w, int64_t n, int k, const KMeans1dOptions& options = {});

// sum_i w_i * (x_i - nearest centroid)^2 by direct evaluation (w null: ones). For tests and diagnostics.
double kmeans_1d_cost(const float* x, const float* w, int64_t n, const float* centroids, int k);

}  // namespace sq
