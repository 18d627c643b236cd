// The weighted 1-D k-means of quant/kmeans_1d.cpp (KMeans1dSolver with its default options, CoarseLloyd) as a
// program for a team of threads that share memory, for the rows the device fits too long for one thread:
// CLAQ's column fit (quant/grid_column_kmeans.cpp: the column's `reserve` smallest and largest values, ties
// broken by row, are set aside first) and LeanQuant's lookup tables over groups wider than
// kMaxExactKMeansWidth (quant/grid_lut_kmeans.cpp, importance weights). Steps as the CPU's: zero weights
// dropped, sort, duplicate merge, shifted prefix sums, coarse bins closed by count or span, the exact
// divide-and-conquer program on the bins (or on the points when there are few), Lloyd steps on every point,
// the centroids rounded to float. The device runs it with one CUDA thread block per column or row
// (kernels/cuda/claq_column.cu, kernels/cuda/lut_kmeans.cu); the CPU tests run it with host teams and compare
// with the CPU grids bit for bit.
//
// Why a team and not one thread: a CLAQ column has as many values as the layer has rows (up to 28672), and the
// fits of a layer are strictly sequential (each column is fitted on values the previous columns' errors have
// updated), so one column must be spread over many threads to be fast. Every step below is a phase
// `team.for_each(n, f)`: f(i) for all i in [0, n), on any threads in any order, and then every thread waits.
// Items of one phase never read what another item of the same phase writes, so the result does not depend on
// how the items are spread: the host tests run them forwards, backwards, and with different team sizes.
// Results are the CPU's bit for bit because every floating-point value is computed by the same expression
// from the same operands: parallel steps only sort (a total order on (value, index)), count, or pick a
// leftmost minimum, which are exact; the three prefix sums in double, whose rounding depends on their order,
// run as sequential chains (one thread each). One caveat, shared with kmeans_exact_row.hpp: the CPU's
// std::sort leaves equal values in an unspecified order, which only changes the order their weights are added
// in (exact in double unless they span more than ~2^28; unweighted points are always exact).
#pragma once
#include <cmath>
#include <cstdint>

#include "portable/kmeans_exact_row.hpp"
#include "portable/portable.hpp"
#include "portable/team_sort.hpp"

namespace sq {

// KMeans1dOptions' defaults, the options ColumnKMeansGrid and LutKMeansGrid fit with.
struct TeamKMeansOptions {
  int max_iter = 100;
  double tol = 1e-6;
  int coarse_bins = 512;
};

// Most threads a team may have (the scan's per-thread counts are sized for it).
constexpr int kMaxKMeansTeam = 1024;
// Entries of the divide-and-conquer search's per-lane partial minima; a level with more nodes gives each
// node fewer lanes.
constexpr int kKMeansPartials = 4096;

namespace team_kmeans {

struct Range {  // one node of the divide-and-conquer tree: j in [jlo, jhi], split points in [ilo, ihi]
  int jlo, jhi, ilo, ihi;
};

struct State {  // scalars that one phase writes and the following phases read
  int bad;      // a value is not finite, or a weight not finite and non-negative
  int positive; // some weight is positive (otherwise every weight counts as one, as the CPU does)
  int dropped;  // points of weight zero, sorted after the others
  int m;        // distinct kept values
  int bins;     // coarse bins used
  int stop;     // Lloyd: stop iterating
  double shift;
};

SQ_PORTABLE inline int64_t align8(int64_t bytes) { return (bytes + 7) / 8 * 8; }
SQ_PORTABLE inline int pow2_at_least(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}
// Coarse bins CoarseLloyd asks for (at least 4 per level), and the largest program the exact step then solves:
// all m <= bins points, or at most 2 bins + 1 coarse bins (each bin closes on count, at most `bins` of them, or
// on a span of range / bins, fewer than `bins` of them, or at the end).
SQ_PORTABLE inline int coarse_bins(int levels, const TeamKMeansOptions& o) {
  return o.coarse_bins > 4 * levels ? o.coarse_bins : 4 * levels;
}
SQ_PORTABLE inline int max_program(int levels, const TeamKMeansOptions& o) { return 2 * coarse_bins(levels, o) + 1; }

// The scratch, carved out of one buffer in this order (8-byte aligned pieces).
struct Layout {
  State* state;
  float* key_v;      // [p] sort keys: value, index (indices >= rows are padding or dropped, sorted last)
  int32_t* key_r;    // [p]
  int32_t* chunk;    // [kMaxKMeansTeam + 1] distinct values per scan chunk, then their offsets
  int32_t* run_end;  // [rows] distinct value d covers kept sorted values [run_end[d - 1], run_end[d])
  int32_t* next;     // [rows] coarse: where a bin starting at a point closes
  int32_t* edge;     // [nb + 1] coarse bin edges
  double* xs;        // [rows] distinct values minus the shift
  double* ts;        // [rows] weight * x
  double* tq;        // [rows] weight * x * x
  double* run_w;     // [rows] the weight of each distinct value
  double* pw;        // [rows + 1] prefix sums of weight, weight x, weight x^2
  double* ps;
  double* pq;
  double* bw;        // [nb + 1] the same at the coarse bin edges
  double* bs;
  double* bq;
  double* row_a;     // [nb + 1] the program's previous and current rows
  double* row_b;
  int32_t* arg;      // [levels * (nb + 1)] split points
  Range* level_a;    // [nb + 1] nodes of the tree's current and next levels
  Range* level_b;
  double* part_v;    // [kKMeansPartials] per-lane partial minima
  int32_t* part_i;
  double* cen;       // [levels] centroids, then Lloyd's working arrays
  double* move;
  double* weight;
  double* cost;
  int32_t* seg;
  int32_t* ub;
  int64_t bytes;
};

SQ_PORTABLE inline Layout layout(void* base, int rows, int levels, const TeamKMeansOptions& o) {
  Layout l{};
  char* b = static_cast<char*>(base);
  int64_t at = 0;
  const auto take = [&](int64_t bytes) {
    char* p = b ? b + at : nullptr;
    at += align8(bytes);
    return p;
  };
  const int p = pow2_at_least(rows), nb = max_program(levels, o);
  const int64_t r = rows, n1 = int64_t(rows) + 1, b1 = int64_t(nb) + 1, k = levels;
  l.state = reinterpret_cast<State*>(take(sizeof(State)));
  l.key_v = reinterpret_cast<float*>(take(4 * int64_t(p)));
  l.key_r = reinterpret_cast<int32_t*>(take(4 * int64_t(p)));
  l.chunk = reinterpret_cast<int32_t*>(take(4 * (kMaxKMeansTeam + 1)));
  l.run_end = reinterpret_cast<int32_t*>(take(4 * r));
  l.next = reinterpret_cast<int32_t*>(take(4 * r));
  l.edge = reinterpret_cast<int32_t*>(take(4 * b1));
  l.xs = reinterpret_cast<double*>(take(8 * r));
  l.ts = reinterpret_cast<double*>(take(8 * r));
  l.tq = reinterpret_cast<double*>(take(8 * r));
  l.run_w = reinterpret_cast<double*>(take(8 * r));
  l.pw = reinterpret_cast<double*>(take(8 * n1));
  l.ps = reinterpret_cast<double*>(take(8 * n1));
  l.pq = reinterpret_cast<double*>(take(8 * n1));
  l.bw = reinterpret_cast<double*>(take(8 * b1));
  l.bs = reinterpret_cast<double*>(take(8 * b1));
  l.bq = reinterpret_cast<double*>(take(8 * b1));
  l.row_a = reinterpret_cast<double*>(take(8 * b1));
  l.row_b = reinterpret_cast<double*>(take(8 * b1));
  l.arg = reinterpret_cast<int32_t*>(take(4 * k * b1));
  l.level_a = reinterpret_cast<Range*>(take(int64_t(sizeof(Range)) * b1));
  l.level_b = reinterpret_cast<Range*>(take(int64_t(sizeof(Range)) * b1));
  l.part_v = reinterpret_cast<double*>(take(8 * kKMeansPartials));
  l.part_i = reinterpret_cast<int32_t*>(take(4 * kKMeansPartials));
  l.cen = reinterpret_cast<double*>(take(8 * k));
  l.move = reinterpret_cast<double*>(take(8 * k));
  l.weight = reinterpret_cast<double*>(take(8 * k));
  l.cost = reinterpret_cast<double*>(take(8 * k));
  l.seg = reinterpret_cast<int32_t*>(take(4 * k));
  l.ub = reinterpret_cast<int32_t*>(take(4 * k));
  l.bytes = at;
  return l;
}

// (value, index) order; indices >= rows (padding, dropped points) after every other.
SQ_PORTABLE inline bool key_less(float va, int32_t ra, float vb, int32_t rb, int rows) {
  const bool pa = ra >= rows, pb = rb >= rows;
  if (pa != pb) return pb;
  return va < vb || (va == vb && ra < rb);
}

// Within-segment weighted sum of squares of points [i, j), as SegmentCost in kmeans_1d.cpp.
SQ_PORTABLE inline double segment_cost(const double* w, const double* s, const double* q, int i, int j) {
  const double ww = w[j] - w[i];
  if (ww <= 0.0) return 0.0;
  const double ss = s[j] - s[i];
  return (q[j] - q[i]) - ss * ss / ww;
}

// First index in [lo, hi) whose xs exceeds v (hi if none), as std::upper_bound.
SQ_PORTABLE inline int upper_bound(const double* xs, int lo, int hi, double v) {
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (v < xs[mid]) hi = mid; else lo = mid + 1;
  }
  return lo;
}

template <typename T>
SQ_PORTABLE inline void sort_small(T* a, int n) {  // insertion sort, ascending
  for (int i = 1; i < n; ++i) {
    const T v = a[i];
    int at = i;
    while (at > 0 && v < a[at - 1]) {
      a[at] = a[at - 1];
      --at;
    }
    a[at] = v;
  }
}

// KMeans1dSolver::exact on the m points whose prefix sums are w, s, q: centroids into l.cen.
template <typename Team>
SQ_PORTABLE void exact(Team& team, const Layout& l, const double* w, const double* s, const double* q, int m, int k) {
  double* prev = l.row_a;
  double* cur = l.row_b;
  const int64_t arg_row = int64_t(m) + 1;
  team.for_each(m + 1, [&](int64_t j) { prev[j] = j == 0 ? double(INFINITY) : segment_cost(w, s, q, 0, int(j)); });
  for (int c = 2; c <= k; ++c) {
    team.for_each(m + 1, [&](int64_t j) { cur[j] = double(INFINITY); });
    int32_t* arg = l.arg + (c - 1) * arg_row;
    // The divide-and-conquer tree of dc_layer, a level at a time: a node's middle j searches the split points
    // its parent's choice leaves it. The tree's shape depends only on [jlo, jhi], so every node of a level is
    // known when the level starts; a level of `slots` slots has nodes of at most `size` j values.
    const int jlo = c, jhi = m - (k - c);
    Range* nodes = l.level_a;
    Range* children = l.level_b;
    team.for_each(1, [&](int64_t) { nodes[0] = Range{jlo, jhi, c - 1, jhi - 1}; });
    int slots = 1;
    for (int size = jhi - jlo + 1; size >= 1; size /= 2, slots *= 2) {
      int lanes = kKMeansPartials / slots;
      lanes = lanes > 32 ? 32 : lanes < 1 ? 1 : lanes;
      // Each lane keeps the leftmost minimum of prev[i] + cost(i, jmid) over every lanes-th i of the window.
      team.for_each(int64_t(slots) * lanes, [&](int64_t item) {
        const int node = int(item / lanes), lane = int(item % lanes);
        const Range r = nodes[node];
        double best = double(INFINITY);
        int best_i = -1;
        if (r.jlo <= r.jhi) {
          const int jmid = r.jlo + (r.jhi - r.jlo) / 2;
          const int last = r.ihi < jmid - 1 ? r.ihi : jmid - 1;
          for (int i = r.ilo + lane; i <= last; i += lanes) {
            const double v = prev[i] + segment_cost(w, s, q, i, jmid);
            if (v < best) {
              best = v;
              best_i = i;
            }
          }
        }
        l.part_v[item] = best;
        l.part_i[item] = best_i;
      });
      // The node's leftmost minimum over its lanes (ilo when nothing is below infinity, as dc_layer), and its
      // two children.
      const bool deeper = size / 2 >= 1;
      team.for_each(slots, [&](int64_t node) {
        const Range r = nodes[node];
        Range left{1, 0, 0, 0}, right{1, 0, 0, 0};  // empty
        if (r.jlo <= r.jhi) {
          double best = double(INFINITY);
          int best_i = -1;
          for (int lane = 0; lane < lanes; ++lane) {
            const int64_t at = node * lanes + lane;
            const int i = l.part_i[at];
            if (i >= 0 && (l.part_v[at] < best || (l.part_v[at] == best && i < best_i))) {
              best = l.part_v[at];
              best_i = i;
            }
          }
          if (best_i < 0) best_i = r.ilo;
          const int jmid = r.jlo + (r.jhi - r.jlo) / 2;
          cur[jmid] = best;
          arg[jmid] = best_i;
          left = Range{r.jlo, jmid - 1, r.ilo, best_i};
          right = Range{jmid + 1, r.jhi, best_i, r.ihi};
        }
        if (deeper) {
          children[2 * node] = left;
          children[2 * node + 1] = right;
        }
      });
      Range* t = nodes;
      nodes = children;
      children = t;
    }
    double* t = prev;
    prev = cur;
    cur = t;
  }
  team.for_each(1, [&](int64_t) {
    int end = m;
    for (int c = k; c >= 1; --c) {
      const int begin = c == 1 ? 0 : l.arg[(c - 1) * arg_row + end];
      const double ww = w[end] - w[begin];
      l.cen[c - 1] = ww > 0.0 ? (s[end] - s[begin]) / ww : 0.0;
      end = begin;
    }
  });
}

// KMeans1dSolver::relocate_empty on thread-local data (one item runs it).
SQ_PORTABLE inline bool relocate_empty(const Layout& l, int k) {
  bool any_empty = false;
  for (int j = 0; j < k; ++j) {
    const int b = j == 0 ? 0 : l.seg[j - 1], e = l.seg[j];
    l.weight[j] = l.pw[e] - l.pw[b];
    const double ss = l.ps[e] - l.ps[b];
    l.cost[j] = l.weight[j] > 0.0 ? (l.pq[e] - l.pq[b]) - ss * ss / l.weight[j] : 0.0;
    any_empty = any_empty || l.weight[j] <= 0.0;
  }
  if (!any_empty) return false;
  bool moved = false;
  for (int i = 0; i < k; ++i) {
    if (l.weight[i] > 0.0) continue;
    int big = 0;  // first maximum, as std::max_element
    for (int j = 1; j < k; ++j)
      if (l.cost[big] < l.cost[j]) big = j;
    if (l.cost[big] <= 0.0) break;
    const double dev = 0.5 * sqrt(l.cost[big] / l.weight[big]);
    l.cen[i] = l.cen[big] + dev;
    l.cen[big] -= dev;
    l.cost[big] = 0.0;
    moved = true;
  }
  if (moved) sort_small(l.cen, k);
  return moved;
}

// KMeans1dSolver::lloyd on all m points, from the centroids in l.cen.
template <typename Team>
SQ_PORTABLE void lloyd(Team& team, const Layout& l, int m, int k, const TeamKMeansOptions& o) {
  const double range = l.xs[m - 1] - l.xs[0];
  for (int it = 0; it < o.max_iter; ++it) {
    // Points up to the midpoint between neighbouring centroids belong to the lower one. The CPU searches from
    // the previous boundary on, which is the whole-array search or that boundary, whichever is later.
    team.for_each(k - 1, [&](int64_t i) { l.ub[i] = upper_bound(l.xs, 0, m, 0.5 * (l.cen[i] + l.cen[i + 1])); });
    team.for_each(1, [&](int64_t) {
      int from = 0;
      bool same = it > 0;
      for (int i = 0; i < k; ++i) {
        if (i + 1 < k) from = l.ub[i] > from ? l.ub[i] : from;
        const int end = i + 1 < k ? from : m;
        same = same && l.seg[i] == end;
        l.seg[i] = end;
      }
      l.state->stop = same;  // the same partition: the centroids are a fixed point
    });
    if (l.state->stop) return;
    team.for_each(k, [&](int64_t i) {
      const int begin = i == 0 ? 0 : l.seg[i - 1], end = l.seg[i];
      const double ww = l.pw[end] - l.pw[begin];
      l.move[i] = 0.0;
      if (ww > 0.0) {  // an empty cluster keeps its centroid
        const double c = (l.ps[end] - l.ps[begin]) / ww;
        l.move[i] = fabs(c - l.cen[i]);
        l.cen[i] = c;
      }
    });
    team.for_each(1, [&](int64_t) {
      double max_move = 0.0;
      for (int i = 0; i < k; ++i) max_move = max_move < l.move[i] ? l.move[i] : max_move;
      if (relocate_empty(l, k)) l.state->stop = 0;
      else l.state->stop = max_move <= o.tol * range;
    });
    if (l.state->stop) return;
  }
}

}  // namespace team_kmeans

// Bytes of scratch team_kmeans_fit needs for `rows` values fitted with `levels` levels.
SQ_PORTABLE inline int64_t team_kmeans_bytes(int rows, int levels, const TeamKMeansOptions& o = {}) {
  return team_kmeans::layout(nullptr, rows, levels, o).bytes;
}

// Scratch of one row of the device LUT fit (DeviceApi::lut_kmeans_fit): one thread per row runs the exact fit
// of kmeans_exact_row.hpp up to kMaxExactKMeansWidth values, one team per row this program above.
SQ_PORTABLE inline int64_t lut_kmeans_row_bytes(int width, int levels) {
  return width <= kMaxExactKMeansWidth ? exact_kmeans_scratch_bytes(width, levels) : team_kmeans_bytes(width, levels);
}

// Fits the values x[0], x[stride], ..., x[(rows - 1) stride] with weights w[0..rows) (null: ones), as
// KMeans1dSolver::solve does, after setting aside `reserve` values per side as ColumnKMeansGrid::fit does
// (2 * reserve < rows; reserve > 0 only without weights): levels_out gets the `levels` ascending levels
// (1 <= levels <= 256), reserved_out the 2 * reserve reserved indices, ascending. A non-finite value, or a
// weight that is not finite and non-negative, gives NaN levels (the caller reports it). Every thread of the
// team calls this with the same arguments; scratch holds team_kmeans_bytes(rows, levels, o) bytes, 8-byte
// aligned.
template <typename Team>
SQ_PORTABLE void team_kmeans_fit(Team& team, const float* x, int64_t stride, const float* w, int rows, int levels,
                                 int reserve, const TeamKMeansOptions& o, void* scratch, float* levels_out,
                                 int32_t* reserved_out) {
  using namespace team_kmeans;
  const Layout l = layout(scratch, rows, levels, o);
  const int p = pow2_at_least(rows), k = levels;
  team.for_each(1, [&](int64_t) { l.state->bad = l.state->positive = 0; });
  team.for_each(rows, [&](int64_t i) {  // every writer of a flag writes the same value
    const float wi = w ? w[i] : 1.0f;
    if (!detail::finite(x[i * stride]) || !detail::finite(wi) || wi < 0.0f) l.state->bad = 1;
    if (wi > 0.0f) l.state->positive = 1;
  });
  if (l.state->bad) {
    team.for_each(k, [&](int64_t c) { levels_out[c] = float(NAN); });
    return;
  }
  // A point's weight as the CPU counts it; points of weight zero get an index past `rows`, which sorts them
  // after every other point.
  const bool positive = l.state->positive;
  const auto weight = [&](int32_t i) { return positive && w ? w[i] : 1.0f; };
  team.for_each(p, [&](int64_t i) {
    const bool real = i < rows;
    l.key_v[i] = real ? x[i * stride] : 0.0f;
    l.key_r[i] = int32_t(real && weight(int32_t(i)) > 0.0f ? i : rows + i);
  });
  const int chunks = team.size() < kMaxKMeansTeam ? team.size() : kMaxKMeansTeam;
  const int rows_per_chunk = (rows + chunks - 1) / chunks;
  team.for_each(chunks, [&](int64_t c) {
    int count = 0;
    for (int i = int(c) * rows_per_chunk; i < rows && i < (int(c) + 1) * rows_per_chunk; ++i) count += l.key_r[i] >= rows;
    l.chunk[c] = count;
  });
  team.for_each(1, [&](int64_t) {
    int dropped = 0;
    for (int c = 0; c < chunks; ++c) dropped += l.chunk[c];
    l.state->dropped = dropped;
  });
  const int total = rows - l.state->dropped;  // at least one: all-zero weights count as ones
  // Bitonic sort by (value, index): a total order, so the result is the one sorted array.
  team_bitonic_sort(
      team, p,
      [&](int64_t i, int64_t j) { return key_less(l.key_v[i], l.key_r[i], l.key_v[j], l.key_r[j], rows); },
      [&](int64_t i, int64_t j) {
        detail::swap_values(l.key_v[i], l.key_v[j]);
        detail::swap_values(l.key_r[i], l.key_r[j]);
      });
  // The reserved rows are the first and last `reserve` of the order; each finds its place by counting.
  team.for_each(2 * reserve, [&](int64_t t) {
    const int32_t row = l.key_r[t < reserve ? t : total - 2 * reserve + t];
    int rank = 0;
    for (int u = 0; u < 2 * reserve; ++u) rank += l.key_r[u < reserve ? u : total - 2 * reserve + u] < row;
    reserved_out[rank] = row;
  });

  // The kept values, sorted: v[0..n). A distinct value ends at i when v[i + 1] differs; the ends are
  // numbered by a scan over one chunk per thread.
  const float* v = l.key_v + reserve;
  const int32_t* index = l.key_r + reserve;
  const int n = total - 2 * reserve;
  const int chunk_len = (n + chunks - 1) / chunks;
  const auto ends_at = [&](int i) { return i + 1 == n || v[i + 1] != v[i]; };
  team.for_each(chunks, [&](int64_t c) {
    int count = 0;
    for (int i = int(c) * chunk_len; i < n && i < (int(c) + 1) * chunk_len; ++i) count += ends_at(i);
    l.chunk[c + 1] = count;
  });
  team.for_each(1, [&](int64_t) {
    l.chunk[0] = 0;
    for (int c = 0; c < chunks; ++c) l.chunk[c + 1] += l.chunk[c];
    l.state->m = l.chunk[chunks];
    l.state->shift = 0.5 * (double(v[0]) + double(v[n - 1]));
  });
  team.for_each(chunks, [&](int64_t c) {
    int d = l.chunk[c];
    for (int i = int(c) * chunk_len; i < n && i < (int(c) + 1) * chunk_len; ++i)
      if (ends_at(i)) l.run_end[d++] = i + 1;
  });
  const int m = l.state->m;
  const double shift = l.state->shift;
  // Per distinct value: its weight (its points' weights added in order), its shifted value and the terms the
  // prefix sums add.
  team.for_each(m, [&](int64_t d) {
    const int begin = d == 0 ? 0 : l.run_end[d - 1], end = l.run_end[d];
    double acc_w = 0.0;
    for (int i = begin; i < end; ++i) acc_w += weight(index[i]);
    const double xv = double(v[end - 1]) - shift;
    l.xs[d] = xv;
    l.run_w[d] = acc_w;
    l.ts[d] = acc_w * xv;
    l.tq[d] = acc_w * xv * xv;
  });
  const int bins = coarse_bins(k, o);
  const bool coarse = m > k && m > bins;
  const int max_count = (m + bins - 1) / bins;
  const double max_span = (l.xs[m - 1] - l.xs[0]) / double(bins);
  if (coarse)  // a bin starting at point s closes at the first i > s with i - s = max_count or too wide a span
    team.for_each(m, [&](int64_t s) {
      const int cap = int(s) + max_count < m ? int(s) + max_count : m;
      int lo = int(s) + 1, hi = cap;  // first i in (s, cap) with xs[i] - xs[s] > max_span (rounding is monotone)
      while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if (l.xs[mid] - l.xs[s] > max_span) hi = mid; else lo = mid + 1;
      }
      l.next[s] = lo;
    });
  // The three prefix sums add in order, one thread each; a fourth walks the bins' edges.
  team.for_each(coarse ? 4 : 3, [&](int64_t item) {
    if (item == 0) {
      l.pw[0] = 0.0;
      for (int d = 0; d < m; ++d) l.pw[d + 1] = l.pw[d] + l.run_w[d];
    } else if (item == 1) {
      l.ps[0] = 0.0;
      for (int d = 0; d < m; ++d) l.ps[d + 1] = l.ps[d] + l.ts[d];
    } else if (item == 2) {
      l.pq[0] = 0.0;
      for (int d = 0; d < m; ++d) l.pq[d + 1] = l.pq[d] + l.tq[d];
    } else {
      int b = 0;
      l.edge[0] = 0;
      for (int s = 0; s < m; s = l.next[s]) l.edge[++b] = l.next[s];
      l.state->bins = b;
    }
  });

  if (m <= k) {  // every distinct value its own centroid; the rest repeat the largest
    team.for_each(k, [&](int64_t c) { l.cen[c] = l.xs[c < m ? c : m - 1]; });
  } else if (!coarse) {
    exact(team, l, l.pw, l.ps, l.pq, m, k);
  } else {
    const int b = l.state->bins;
    team.for_each(b + 1, [&](int64_t e) {
      l.bw[e] = l.pw[l.edge[e]];
      l.bs[e] = l.ps[l.edge[e]];
      l.bq[e] = l.pq[l.edge[e]];
    });
    exact(team, l, l.bw, l.bs, l.bq, b, k);
    lloyd(team, l, m, k, o);
  }
  team.for_each(1, [&](int64_t) { detail::float_centroids(l.cen, k, shift, levels_out); });
}

}  // namespace sq
