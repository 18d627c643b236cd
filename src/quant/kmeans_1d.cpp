#include "quant/kmeans_1d.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace sq {
namespace {

// Within-segment weighted sum of squares of points [i, j) from prefix sums. In 1-D this interval cost
// satisfies the quadrangle inequality (it is the k-means cost of a contiguous run), so the leftmost
// optimal split point of the DP is monotone in j: the divide-and-conquer optimization is exact.
struct SegmentCost {
  const double* w;
  const double* s;
  const double* q;
  double operator()(int64_t i, int64_t j) const {
    const double ww = w[j] - w[i];
    if (ww <= 0.0) return 0.0;
    const double ss = s[j] - s[i];
    return (q[j] - q[i]) - ss * ss / ww;
  }
};

// cur[j] = min_{i in [ilo, ihi], i < j} prev[i] + cost(i, j) for j in [jlo, jhi], recursing on the middle j.
void dc_layer(const SegmentCost& cost, const double* prev, double* cur, int32_t* arg, int64_t jlo, int64_t jhi,
              int64_t ilo, int64_t ihi) {
  while (jlo <= jhi) {
    const int64_t jmid = jlo + (jhi - jlo) / 2;
    const int64_t last = std::min(ihi, jmid - 1);
    double best = INFINITY;
    int64_t best_i = ilo;
    for (int64_t i = ilo; i <= last; ++i) {
      const double v = prev[i] + cost(i, jmid);
      if (v < best) {
        best = v;
        best_i = i;
      }
    }
    cur[jmid] = best;
    arg[jmid] = int32_t(best_i);
    // Recurse on the smaller half and loop on the other to bound the stack depth.
    if (jmid - jlo < jhi - jmid) {
      dc_layer(cost, prev, cur, arg, jlo, jmid - 1, ilo, best_i);
      jlo = jmid + 1;
      ilo = best_i;
    } else {
      dc_layer(cost, prev, cur, arg, jmid + 1, jhi, best_i, ihi);
      jhi = jmid - 1;
      ihi = best_i;
    }
  }
}

}  // namespace

void KMeans1dSolver::prepare(const float* x, const float* w, int64_t n) {
  pairs_.clear();
  pairs_.reserve(size_t(n));
  bool any_positive = false;
  for (int64_t i = 0; i < n; ++i) {
    const float wi = w ? w[i] : 1.0f;
    if (!std::isfinite(x[i]) || !std::isfinite(wi) || wi < 0.0f)
      throw_error(SQ_ERR_NUMERIC, "kmeans_1d: value ", i, " is ", x[i], " with weight ", wi,
                  " (expected finite values and finite non-negative weights)");
    if (wi > 0.0f) any_positive = true;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float wi = any_positive ? (w ? w[i] : 1.0f) : 1.0f;
    if (wi > 0.0f) pairs_.emplace_back(x[i], wi);
  }
  std::sort(pairs_.begin(), pairs_.end(),
            [](const std::pair<float, float>& a, const std::pair<float, float>& b) { return a.first < b.first; });
  // Merge duplicates; shift by the midpoint of the range so the prefix sums of w*x^2 stay small.
  xs_.clear();
  pw_.assign(1, 0.0);
  ps_.assign(1, 0.0);
  pq_.assign(1, 0.0);
  if (pairs_.empty()) return;
  shift_ = 0.5 * (double(pairs_.front().first) + double(pairs_.back().first));
  double acc_w = 0.0;
  for (size_t i = 0; i < pairs_.size(); ++i) {
    acc_w += pairs_[i].second;
    if (i + 1 < pairs_.size() && pairs_[i + 1].first == pairs_[i].first) continue;
    const double xv = double(pairs_[i].first) - shift_;
    xs_.push_back(xv);
    pw_.push_back(pw_.back() + acc_w);
    ps_.push_back(ps_.back() + acc_w * xv);
    pq_.push_back(pq_.back() + acc_w * xv * xv);
    acc_w = 0.0;
  }
}

void KMeans1dSolver::exact(int k, const double* wsum, const double* ssum, const double* qsum, int64_t m,
                           std::vector<double>& centroids) {
  const SegmentCost cost{wsum, ssum, qsum};
  prev_.assign(size_t(m + 1), INFINITY);
  cur_.assign(size_t(m + 1), INFINITY);
  argmin_.assign(size_t(k) * size_t(m + 1), 0);
  for (int64_t j = 1; j <= m; ++j) prev_[size_t(j)] = cost(0, j);
  for (int c = 2; c <= k; ++c) {
    std::fill(cur_.begin(), cur_.end(), INFINITY);
    // c clusters cover at least c points, and leave at least k - c points for the remaining clusters.
    const int64_t jlo = c, jhi = m - (k - c);
    dc_layer(cost, prev_.data(), cur_.data(), argmin_.data() + size_t(c - 1) * size_t(m + 1), jlo, jhi, c - 1,
             jhi - 1);
    std::swap(prev_, cur_);
  }
  centroids.assign(size_t(k), 0.0);
  int64_t end = m;
  for (int c = k; c >= 1; --c) {
    const int64_t begin = c == 1 ? 0 : argmin_[size_t(c - 1) * size_t(m + 1) + size_t(end)];
    const double ww = wsum[end] - wsum[begin];
    centroids[size_t(c - 1)] = ww > 0.0 ? (ssum[end] - ssum[begin]) / ww : 0.0;
    end = begin;
  }
}

void KMeans1dSolver::init_centroids(int k, std::vector<double>& centroids) const {
  const int64_t m = int64_t(xs_.size());
  centroids.assign(size_t(k), 0.0);
  KMeans1dInit init = options_.init;
  if (init == KMeans1dInit::Auto) init = k <= 8 ? KMeans1dInit::Linspace : KMeans1dInit::Quantile;
  if (init == KMeans1dInit::Linspace) {
    const double lo = xs_.front(), hi = xs_.back();
    for (int i = 0; i < k; ++i) centroids[size_t(i)] = k == 1 ? 0.5 * (lo + hi) : lo + (hi - lo) * i / (k - 1);
    return;
  }
  const double total = pw_[size_t(m)];
  for (int i = 0; i < k; ++i) {
    const double target = total * (i + 0.5) / k;
    const auto it = std::lower_bound(pw_.begin() + 1, pw_.end(), target);
    centroids[size_t(i)] = xs_[size_t(std::min<int64_t>(m - 1, int64_t(it - (pw_.begin() + 1))))];
  }
}

void KMeans1dSolver::lloyd(int k, std::vector<double>& centroids, int& iterations) {
  const int64_t m = int64_t(xs_.size());
  const double range = xs_.back() - xs_.front();
  std::vector<int64_t> prev_end;
  seg_end_.assign(size_t(k), m);
  iterations = 0;
  for (int it = 0; it < options_.max_iter; ++it) {
    // Points up to the midpoint between neighbouring centroids belong to the lower one.
    int64_t from = 0;
    for (int i = 0; i + 1 < k; ++i) {
      const double boundary = 0.5 * (centroids[size_t(i)] + centroids[size_t(i + 1)]);
      from = int64_t(std::upper_bound(xs_.begin() + from, xs_.end(), boundary) - xs_.begin());
      seg_end_[size_t(i)] = from;
    }
    seg_end_[size_t(k - 1)] = m;
    if (it > 0 && seg_end_ == prev_end) break;  // same partition: the centroids are a fixed point
    prev_end = seg_end_;
    ++iterations;
    double max_move = 0.0;
    int64_t begin = 0;
    for (int i = 0; i < k; ++i) {
      const int64_t end = seg_end_[size_t(i)];
      const double ww = pw_[size_t(end)] - pw_[size_t(begin)];
      if (ww > 0.0) {  // an empty cluster keeps its centroid (it stays between its neighbours)
        const double c = (ps_[size_t(end)] - ps_[size_t(begin)]) / ww;
        max_move = std::max(max_move, std::fabs(c - centroids[size_t(i)]));
        centroids[size_t(i)] = c;
      }
      begin = end;
    }
    if (relocate_empty(k, centroids)) continue;
    if (max_move <= options_.tol * range) break;
  }
}

bool KMeans1dSolver::relocate_empty(int k, std::vector<double>& centroids) {
  // Linspace starts on rows with outliers leave clusters empty for good (no point lies near them). Move each
  // empty centroid into the costliest cluster, splitting that one around its mean by one deviation.
  std::vector<double> weight(static_cast<size_t>(k)), cost(static_cast<size_t>(k));
  bool any_empty = false;
  for (int j = 0; j < k; ++j) {
    const size_t b = size_t(j == 0 ? 0 : seg_end_[size_t(j - 1)]), e = size_t(seg_end_[size_t(j)]);
    weight[size_t(j)] = pw_[e] - pw_[b];
    const double ss = ps_[e] - ps_[b];
    cost[size_t(j)] = weight[size_t(j)] > 0.0 ? (pq_[e] - pq_[b]) - ss * ss / weight[size_t(j)] : 0.0;
    any_empty = any_empty || weight[size_t(j)] <= 0.0;
  }
  if (!any_empty) return false;
  bool moved = false;
  for (int i = 0; i < k; ++i) {
    if (weight[size_t(i)] > 0.0) continue;
    const int big = int(std::max_element(cost.begin(), cost.end()) - cost.begin());
    if (cost[size_t(big)] <= 0.0) break;  // nothing left to split: fewer useful clusters than k
    const double dev = 0.5 * std::sqrt(cost[size_t(big)] / weight[size_t(big)]);
    centroids[size_t(i)] = centroids[size_t(big)] + dev;
    centroids[size_t(big)] -= dev;
    cost[size_t(big)] = 0.0;
    moved = true;
  }
  if (moved) std::sort(centroids.begin(), centroids.end());
  return moved;
}

double KMeans1dSolver::cost_of(const std::vector<double>& centroids) const {
  const int64_t m = int64_t(xs_.size());
  const int k = int(centroids.size());
  double total = 0.0;
  int64_t begin = 0;
  for (int i = 0; i < k; ++i) {
    int64_t end = m;
    if (i + 1 < k) {
      const double boundary = 0.5 * (centroids[size_t(i)] + centroids[size_t(i + 1)]);
      end = int64_t(std::upper_bound(xs_.begin() + begin, xs_.end(), boundary) - xs_.begin());
    }
    const double c = centroids[size_t(i)];
    const double ww = pw_[size_t(end)] - pw_[size_t(begin)];
    const double ss = ps_[size_t(end)] - ps_[size_t(begin)];
    const double qq = pq_[size_t(end)] - pq_[size_t(begin)];
    total += std::max(0.0, qq - 2.0 * c * ss + c * c * ww);
    begin = end;
  }
  return total;
}

KMeans1dResult KMeans1dSolver::solve(const float* x, const float* w, int64_t n, int k) {
  if (k < 1) throw_error(SQ_ERR_INVALID_ARGUMENT, "kmeans_1d: k must be >= 1; got ", k);
  if (n < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "kmeans_1d: n must be >= 0; got ", n);
  KMeans1dResult result;
  prepare(x, w, n);
  const int64_t m = int64_t(xs_.size());
  if (m == 0) {
    result.centroids.assign(size_t(k), 0.0f);
    return result;
  }
  std::vector<double> centroids;
  if (m <= k) {
    // Every distinct value gets its own centroid; the rest repeat the largest value.
    centroids.assign(xs_.begin(), xs_.end());
    centroids.resize(size_t(k), xs_.back());
  } else if (options_.method == KMeans1dMethod::Exact) {
    exact(k, pw_.data(), ps_.data(), pq_.data(), m, centroids);
  } else if (options_.method == KMeans1dMethod::Lloyd) {
    init_centroids(k, centroids);
    lloyd(k, centroids, result.iterations);
  } else {
    const int64_t bins = std::max<int64_t>(options_.coarse_bins, 4 * int64_t(k));
    if (m <= bins) {
      exact(k, pw_.data(), ps_.data(), pq_.data(), m, centroids);
    } else {
      // Bins close after m / bins points or a value span of range / bins, whichever comes first, so an
      // outlier is never merged with the bulk (equal-count bins alone lost up to 2x on rows with outliers).
      // A bin's prefix sums are the points' prefix sums sampled at its edges.
      const int64_t max_count = (m + bins - 1) / bins;
      const double max_span = (xs_.back() - xs_.front()) / double(bins);
      bw_.assign(1, 0.0);
      bs_.assign(1, 0.0);
      bq_.assign(1, 0.0);
      int64_t start = 0;
      for (int64_t i = 1; i <= m; ++i) {
        if (i < m && i - start < max_count && xs_[size_t(i)] - xs_[size_t(start)] <= max_span) continue;
        bw_.push_back(pw_[size_t(i)]);
        bs_.push_back(ps_[size_t(i)]);
        bq_.push_back(pq_[size_t(i)]);
        start = i;
      }
      const int64_t used_bins = int64_t(bw_.size()) - 1;
      exact(k, bw_.data(), bs_.data(), bq_.data(), used_bins, centroids);
      lloyd(k, centroids, result.iterations);
    }
  }
  result.centroids.resize(size_t(k));
  std::vector<double> rounded(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) {
    result.centroids[size_t(i)] = float(centroids[size_t(i)] + shift_);
    rounded[size_t(i)] = double(result.centroids[size_t(i)]) - shift_;
  }
  // Float rounding is monotone, so the order survives; sort anyway to be robust to exotic inputs.
  std::sort(result.centroids.begin(), result.centroids.end());
  std::sort(rounded.begin(), rounded.end());
  result.cost = cost_of(rounded);
  return result;
}

KMeans1dResult kmeans_1d(const float* x, const float* w, int64_t n, int k, const KMeans1dOptions& options) {
  KMeans1dSolver solver(options);
  return solver.solve(x, w, n, k);
}

double kmeans_1d_cost(const float* x, const float* w, int64_t n, const float* centroids, int k) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double best = INFINITY;
    for (int c = 0; c < k; ++c) {
      const double d = double(x[i]) - double(centroids[c]);
      best = std::min(best, d * d);
    }
    total += (w ? double(w[i]) : 1.0) * best;
  }
  return total;
}

}  // namespace sq
