// The weighted 1-D k-means of quant/kmeans_1d.hpp for one short row, in the regime where the CPU solver is
// exact: KMeans1dSolver with the default CoarseLloyd method solves rows of at most coarse_bins (512) distinct
// values by its dynamic program alone. This is that path, step for step: drop zero weights, sort, merge
// duplicates, prefix sums in double around the midpoint shift, the divide-and-conquer program over contiguous
// segments, the centroids rounded to float and sorted. The same source runs in the device LUT fit
// (kernels/cuda/gptq_lut.cu, one thread per row) and in the CPU test that checks it against KMeans1dSolver.
//
// Scratch is caller memory: on the device one buffer holds the rows of a whole launch interleaved (element e of
// row t at e * rows + t), so the threads of a warp touch neighbouring addresses.
#pragma once
#include <cmath>
#include <cstdint>

#include "portable/portable.hpp"

namespace sq {

// Longest row this fit takes: KMeans1dOptions::coarse_bins, below which the CPU solver is exact.
constexpr int kMaxExactKMeansWidth = 512;

template <typename T>
struct Strided {
  T* p;
  int64_t stride;
  SQ_PORTABLE T& operator[](int64_t i) const { return p[i * stride]; }
  SQ_PORTABLE Strided at(int64_t offset) const { return Strided{p + offset * stride, stride}; }
};

struct ExactKMeansScratch {
  Strided<double> d;    // xs[n], prefix sums of w, w x, w x^2 [3 (n + 1)], two program rows [2 (n + 1)], centroids[k]
  Strided<float> f;     // the kept values and weights [2 n]
  Strided<uint16_t> u;  // the program's split points [k (n + 1)]
};

SQ_PORTABLE inline int64_t exact_kmeans_doubles(int n, int k) { return int64_t(n) + 5 * (int64_t(n) + 1) + k; }
SQ_PORTABLE inline int64_t exact_kmeans_floats(int n) { return 2 * int64_t(n); }
SQ_PORTABLE inline int64_t exact_kmeans_u16s(int n, int k) { return int64_t(k) * (int64_t(n) + 1); }
// Bytes of scratch one row needs.
SQ_PORTABLE inline int64_t exact_kmeans_scratch_bytes(int n, int k) {
  return 8 * exact_kmeans_doubles(n, k) + 4 * exact_kmeans_floats(n) + 2 * exact_kmeans_u16s(n, k);
}
// The scratch of row t among `rows` rows interleaved in `base` (rows * exact_kmeans_scratch_bytes(n, k) bytes,
// 8-byte aligned).
SQ_PORTABLE inline ExactKMeansScratch exact_kmeans_scratch(void* base, int n, int k, int64_t rows, int64_t t) {
  double* d = static_cast<double*>(base);
  float* f = reinterpret_cast<float*>(d + exact_kmeans_doubles(n, k) * rows);
  uint16_t* u = reinterpret_cast<uint16_t*>(f + exact_kmeans_floats(n) * rows);
  return ExactKMeansScratch{{d + t, rows}, {f + t, rows}, {u + t, rows}};
}

namespace detail {

SQ_PORTABLE inline bool finite(float v) { return v - v == 0.0f; }  // false for NaN and +-inf

template <typename T>
SQ_PORTABLE inline void swap_values(T& a, T& b) {
  const T t = a;
  a = b;
  b = t;
}

// Heap sort of (x, w) pairs by x. The CPU's std::sort orders equal x differently, which only changes the
// order their weights are added in (exact in double unless the weights span more than ~2^28).
SQ_PORTABLE inline void sift_down(const Strided<float>& x, const Strided<float>& w, int root, int end) {
  for (;;) {
    int child = 2 * root + 1;
    if (child >= end) return;
    if (child + 1 < end && x[child] < x[child + 1]) ++child;
    if (!(x[root] < x[child])) return;
    swap_values(x[root], x[child]);
    swap_values(w[root], w[child]);
    root = child;
  }
}
SQ_PORTABLE inline void heap_sort(const Strided<float>& x, const Strided<float>& w, int n) {
  for (int start = n / 2 - 1; start >= 0; --start) sift_down(x, w, start, n);
  for (int end = n - 1; end > 0; --end) {
    swap_values(x[0], x[end]);
    swap_values(w[0], w[end]);
    sift_down(x, w, 0, end);
  }
}

// Within-segment weighted sum of squares of points [i, j), as kmeans_1d.cpp's SegmentCost.
struct SegmentCost {
  Strided<double> w, s, q;
  SQ_PORTABLE double operator()(int i, int j) const {
    const double ww = w[j] - w[i];
    if (ww <= 0.0) return 0.0;
    const double ss = s[j] - s[i];
    return (q[j] - q[i]) - ss * ss / ww;
  }
};

// One layer of the program: cur[j] = min over i in [ilo, min(ihi, j - 1)] of prev[i] + cost(i, j), for j in
// [jlo, jhi], by the same divide-and-conquer tree as dc_layer in kmeans_1d.cpp (each middle j searches the
// window its parent's split points leave, keeping the leftmost minimum), walked with an explicit stack.
SQ_PORTABLE inline void dc_layer(const SegmentCost& cost, const Strided<double>& prev, const Strided<double>& cur,
                                 const Strided<uint16_t>& arg, int jlo, int jhi, int ilo, int ihi) {
  struct Range {
    int jlo, jhi, ilo, ihi;
  };
  Range stack[40];  // the larger half is pushed, the smaller processed: depth <= log2(rows) + 1
  int top = 0;
  stack[top++] = Range{jlo, jhi, ilo, ihi};
  while (top > 0) {
    Range r = stack[--top];
    while (r.jlo <= r.jhi) {
      const int jmid = r.jlo + (r.jhi - r.jlo) / 2;
      const int last = r.ihi < jmid - 1 ? r.ihi : jmid - 1;
      double best = double(INFINITY);
      int best_i = r.ilo;
      for (int i = r.ilo; i <= last; ++i) {
        const double v = prev[i] + cost(i, jmid);
        if (v < best) {
          best = v;
          best_i = i;
        }
      }
      cur[jmid] = best;
      arg[jmid] = uint16_t(best_i);
      const Range left{r.jlo, jmid - 1, r.ilo, best_i}, right{jmid + 1, r.jhi, best_i, r.ihi};
      if (jmid - r.jlo < r.jhi - jmid) {
        stack[top++] = right;
        r = left;
      } else {
        stack[top++] = left;
        r = right;
      }
    }
  }
}

// centroids[0..k) = the k double centroids plus `shift`, rounded to float, ascending (insertion sort: the
// order of k floats is unique), as KMeans1dSolver::solve returns them.
template <typename Doubles>
SQ_PORTABLE inline void float_centroids(const Doubles& cen, int k, double shift, float* centroids) {
  for (int c = 0; c < k; ++c) {
    const float v = float(cen[c] + shift);
    int at = c;
    while (at > 0 && centroids[at - 1] > v) {
      centroids[at] = centroids[at - 1];
      --at;
    }
    centroids[at] = v;
  }
}

}  // namespace detail

// k ascending centroids for the n values x (weights w, or null for ones), as KMeans1dSolver::solve gives them
// for n <= kMaxExactKMeansWidth and 1 <= k <= 65535. Returns false, writing nothing, when a value or weight is
// not finite or a weight is negative (the CPU solver's SQ_ERR_NUMERIC).
SQ_PORTABLE inline bool exact_kmeans_row(const float* x, const float* w, int n, int k, const ExactKMeansScratch& s,
                                         float* centroids) {
  bool any_positive = false;
  for (int i = 0; i < n; ++i) {
    const float wi = w ? w[i] : 1.0f;
    if (!detail::finite(x[i]) || !detail::finite(wi) || wi < 0.0f) return false;
    if (wi > 0.0f) any_positive = true;
  }
  // Points of weight zero cannot change the objective; all-zero weights count as ones.
  const Strided<float> vx = s.f, vw = s.f.at(n);
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    const float wi = any_positive ? (w ? w[i] : 1.0f) : 1.0f;
    if (wi > 0.0f) {
      vx[kept] = x[i];
      vw[kept] = wi;
      ++kept;
    }
  }
  if (kept == 0) {
    for (int c = 0; c < k; ++c) centroids[c] = 0.0f;
    return true;
  }
  detail::heap_sort(vx, vw, kept);

  // Distinct values, shifted by the midpoint of the range so the prefix sums of w x^2 stay small.
  const double shift = 0.5 * (double(vx[0]) + double(vx[kept - 1]));
  const Strided<double> xs = s.d, pw = s.d.at(n), ps = pw.at(n + 1), pq = ps.at(n + 1);
  Strided<double> prev = pq.at(n + 1), cur = prev.at(n + 1);
  const Strided<double> cen = cur.at(n + 1);
  pw[0] = ps[0] = pq[0] = 0.0;
  int m = 0;
  double acc_w = 0.0;
  for (int i = 0; i < kept; ++i) {
    acc_w += vw[i];
    if (i + 1 < kept && vx[i + 1] == vx[i]) continue;
    const double xv = double(vx[i]) - shift;
    xs[m] = xv;
    pw[m + 1] = pw[m] + acc_w;
    ps[m + 1] = ps[m] + acc_w * xv;
    pq[m + 1] = pq[m] + acc_w * xv * xv;
    ++m;
    acc_w = 0.0;
  }

  if (m <= k) {  // every distinct value its own centroid; the rest repeat the largest
    for (int c = 0; c < k; ++c) cen[c] = xs[c < m ? c : m - 1];
  } else {
    const detail::SegmentCost cost{pw, ps, pq};
    const int64_t arg_row = int64_t(m) + 1;
    for (int j = 0; j <= m; ++j) prev[j] = cur[j] = double(INFINITY);
    for (int j = 1; j <= m; ++j) prev[j] = cost(0, j);
    for (int c = 2; c <= k; ++c) {
      for (int j = 0; j <= m; ++j) cur[j] = double(INFINITY);
      // c clusters cover at least c points and leave at least k - c for the rest.
      const int jlo = c, jhi = m - (k - c);
      detail::dc_layer(cost, prev, cur, s.u.at((c - 1) * arg_row), jlo, jhi, c - 1, jhi - 1);
      detail::swap_values(prev, cur);
    }
    int end = m;
    for (int c = k; c >= 1; --c) {
      const int begin = c == 1 ? 0 : int(s.u[(c - 1) * arg_row + end]);
      const double ww = pw[end] - pw[begin];
      cen[c - 1] = ww > 0.0 ? (ps[end] - ps[begin]) / ww : 0.0;
      end = begin;
    }
  }
  detail::float_centroids(cen, k, shift, centroids);
  return true;
}

}  // namespace sq
