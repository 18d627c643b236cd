// The arithmetic of LeanQuant's loss-aware affine grid search (quant/grid_loss_aware_affine.cpp), shared by the
// CPU grid and the device: the code of a value, the grid of a range, the shrink factors, and the loss of one grid
// over a sorted row with prefix sums or over the row as it is. The CPU search calls these functions; the device
// runs the whole search as the team program below, one thread block per row (kernels/cuda/loss_aware_team.cu),
// for rows of the sorted regime (at least 32 values per level) and for direct-sum rows wider than its warp
// kernel takes (kernels/cuda/loss_aware_affine.cu). The CPU tests run the team program with host teams against
// the CPU grid bit for bit, so a machine without a GPU checks the arithmetic the GPU runs.
//
// Why the team program gives the CPU's grid: the range is the CPU's fold; in the sorted regime the row is sorted
// by (value, index), the CPU's order, so the three prefix sums (double, one sequential chain each) add the same
// terms in the same order; in the direct regime each candidate's terms are the CPU's fp32 products summed in its
// four interleaved double sums; every candidate's loss is the same function of the same operands (one thread
// each); and the CPU's search, which keeps a candidate only when its loss is strictly below the best so far,
// picks the first candidate of least loss, which is what the sequential argmin below picks. Min and max are the
// host's (min_first, max_first), so even signed zeros come out alike.
#pragma once
#include <cmath>
#include <cstdint>

#include "portable/portable.hpp"
#include "portable/team_sort.hpp"

namespace sq {
namespace loss_aware {

struct Grid {
  float scale, zero;
};

SQ_PORTABLE inline bool is_finite(float x) { return x - x == 0.0f; }  // NaN and inf give NaN

// The code of x: clamp(round_half_even(x / scale) + zero, 0, maxq). Clamping t first keeps the add-and-subtract
// rounding exact (it needs |t| < 2^22); it changes no result because every t outside
// [-zero - 1, maxq - zero + 1] clamps to the same end code anyway.
SQ_PORTABLE inline float code_of(float x, float scale, float zero, float maxq) {
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer, ties to even
  float t = x / scale;
  t = min_first(max_first(t, -zero - 1.0f), maxq - zero + 1.0f);
  const float r = (t + round_magic) - round_magic;
  return min_first(max_first(r + zero, 0.0f), maxq);
}

// The GPTQ min-max grid of a range (affine_search::from_range), the scale passed through `store` (the scale
// storage's rounding).
template <typename StoreScale>
SQ_PORTABLE Grid grid_of_range(float lo, float hi, int bits, bool sym, const StoreScale& store) {
  const float maxq = float((1 << bits) - 1);
  lo = min_first(lo, 0.0f);
  hi = max_first(hi, 0.0f);
  if (sym) {
    float amax = max_first(-lo, hi);
    if (amax == 0.0f) amax = 1.0f;
    return Grid{store(2.0f * amax / maxq), float(1 << (bits - 1))};
  }
  if (lo == 0.0f && hi == 0.0f) {
    lo = -1.0f;
    hi = 1.0f;
  }
  const float scale = (hi - lo) / maxq;
  const float zero = min_first(max_first(rintf(-lo / scale), 0.0f), maxq);
  return Grid{store(scale), zero};
}

// Shrink factor i of `steps` (steps >= 1): 1, ..., min_factor evenly spaced.
SQ_PORTABLE inline float shrink_factor(int i, int steps, float min_factor) {
  return i == 0 ? 1.0f : 1.0f - (1.0f - min_factor) * float(i) / float(steps - 1);
}

// Candidate ranges after the unshrunk one: sym scales both ends by one factor (steps - 1 of them), asym each end
// by its own (every pair but (1, 1)).
SQ_PORTABLE inline int candidate_count(int steps, bool sym) { return sym ? steps - 1 : steps * steps - 1; }
// Candidate k's range, in the CPU's order: sym c = k + 1; asym (a, c) = divmod(k + 1, steps).
SQ_PORTABLE inline void candidate_range(int k, int steps, bool sym, float min_factor, float lo, float hi,
                                        float* a_lo, float* a_hi) {
  if (sym) {
    const float f = shrink_factor(k + 1, steps, min_factor);
    *a_lo = lo * f;
    *a_hi = hi * f;
    return;
  }
  *a_lo = lo * shrink_factor((k + 1) / steps, steps, min_factor);
  *a_hi = hi * shrink_factor((k + 1) % steps, steps, min_factor);
}

// Whether the search sorts the row (a candidate then costs ~2^bits binary searches) or sums it directly (one
// pass): sorting wins from about 32 values per level (measured at n = 128..11008, 2-4 bits).
SQ_PORTABLE inline bool sorted_regime(int64_t n, int bits) { return n >= (int64_t(32) << bits); }

// The loss sum s (w - q(w))^2 of grid g over the n values v sorted ascending, from the prefix sums s0, s1, s2
// ([n + 1]; double) of s, s w and s w^2 in that order. A grid's code is non-decreasing in the value, so each
// code's members are a contiguous run, found by binary search with the exact rounding rule; a run's error is
// S2 - 2 v S1 + v^2 S0.
SQ_PORTABLE inline double sorted_loss(const float* v, const double* s0, const double* s1, const double* s2, int64_t n,
                                      Grid g, float maxq) {
  double total = 0.0;
  for (int64_t begin = 0; begin < n;) {
    const float code = code_of(v[begin], g.scale, g.zero, maxq);
    // First index past the run of this code. Branch-free (the comparisons are unpredictable).
    int64_t lo = begin + 1, len = n - lo;
    while (len > 0) {
      const int64_t half = len / 2;
      const bool same = code_of(v[lo + half], g.scale, g.zero, maxq) <= code;
      lo = same ? lo + half + 1 : lo;
      len = same ? len - half - 1 : half;
    }
    const double value = double(g.scale * (code - g.zero));  // the value rounding produces, in float
    const double S0 = s0[lo] - s0[begin], S1 = s1[lo] - s1[begin], S2 = s2[lo] - s2[begin];
    const double e = S2 - 2.0 * value * S1 + value * value * S0;
    total += e > 0.0 ? e : 0.0;  // std::max(0.0, e)
    begin = lo;
  }
  return total;
}

// sum s (w - q(w))^2 in index order, in double (s null: ones): affine_search::weighted_loss.
SQ_PORTABLE inline double direct_loss(const float* w, const float* s, int64_t n, Grid g, float maxq) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float value = g.scale * (code_of(w[i], g.scale, g.zero, maxq) - g.zero);
    const double d = double(w[i]) - double(value);
    total += (s ? double(s[i]) : 1.0) * d * d;
  }
  return total;
}

// The direct regime's ranking loss (DirectRow in grid_loss_aware_affine.cpp): terms s (w - q(w))^2 in fp32
// ((s d) d, s null: ones), summed in double as acc[i % 4], the tail past the last multiple of 4 into acc[0],
// then (acc0 + acc1) + (acc2 + acc3).
SQ_PORTABLE inline double direct_row_loss(const float* w, const float* s, int64_t n, Grid g, float maxq) {
  double acc[4] = {0.0, 0.0, 0.0, 0.0};
  const int64_t body = n / 4 * 4;
  for (int64_t i = 0; i < n; ++i) {
    const float d = w[i] - g.scale * (code_of(w[i], g.scale, g.zero, maxq) - g.zero);
    acc[i < body ? i % 4 : 0] += double((s ? s[i] : 1.0f) * d * d);
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// The widest direct-regime row the device's warp kernel holds (8 values per lane); wider ones, and every
// sorted-regime row, are fitted by the team program.
constexpr int64_t kMaxWarpRow = 256;
SQ_PORTABLE inline bool fitted_by_team(int64_t n, int bits) { return sorted_regime(n, bits) || n > kMaxWarpRow; }

// ---- the search as a team program (kernels/portable/team_kmeans_fit.hpp explains teams) ----

struct SortedScratch {
  float* key_v;    // [p] the row sorted by (value, index); p = the power of two >= n, padding sorted last
  int32_t* key_i;  // [p]
  double* s0;      // [n + 1] prefix sums along the sorted row
  double* s1;
  double* s2;
  double* loss;    // [candidates + 1] the unshrunk grid's loss, then each candidate's
  float* range;    // [4] lo, hi, and a flag: the row holds a value that is not finite
  int64_t bytes;
};

SQ_PORTABLE inline int64_t sorted_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

// Scratch carved from `base` (null: only the size), 8-byte aligned pieces.
SQ_PORTABLE inline SortedScratch sorted_scratch(void* base, int64_t n, int candidates) {
  SortedScratch l{};
  char* b = static_cast<char*>(base);
  int64_t at = 0;
  const auto take = [&](int64_t bytes) {
    char* q = b ? b + at : nullptr;
    at += (bytes + 7) / 8 * 8;
    return q;
  };
  const int64_t p = sorted_pow2(n);
  l.key_v = reinterpret_cast<float*>(take(4 * p));
  l.key_i = reinterpret_cast<int32_t*>(take(4 * p));
  l.s0 = reinterpret_cast<double*>(take(8 * (n + 1)));
  l.s1 = reinterpret_cast<double*>(take(8 * (n + 1)));
  l.s2 = reinterpret_cast<double*>(take(8 * (n + 1)));
  l.loss = reinterpret_cast<double*>(take(8 * (int64_t(candidates) + 1)));
  l.range = reinterpret_cast<float*>(take(4 * 4));
  l.bytes = at;
  return l;
}

// Values a row of n keeps sorted (none in the direct regime).
SQ_PORTABLE inline int64_t sorted_values(int64_t n, int bits) { return sorted_regime(n, bits) ? n : 0; }

// Bytes of scratch the team program needs for one row of n values at `bits` with `shrink_steps` factors.
SQ_PORTABLE inline int64_t team_fit_bytes(int64_t n, int bits, int shrink_steps, bool sym) {
  const int steps = shrink_steps < 1 ? 1 : shrink_steps;
  return sorted_scratch(nullptr, sorted_values(n, bits), candidate_count(steps, sym)).bytes;
}

// (value, index) order; indices >= n (padding) after every other.
SQ_PORTABLE inline bool sorted_before(float va, int32_t ia, float vb, int32_t ib, int64_t n) {
  const bool pa = ia >= n, pb = ib >= n;
  if (pa != pb) return pb;
  return va < vb || (va == vb && ia < ib);
}

// The search on one row of n values (w; importance s, null for ones) for `bits` bits: the grid into *scale_out
// and *zero_out, as fit_row chooses it. A row holding a value that is not finite gets a NaN scale, for the caller
// to report (the CPU throws). workspace: team_fit_bytes(n, bits, shrink_steps, sym) bytes, 8-byte aligned.
template <typename Team, typename StoreScale>
SQ_PORTABLE void team_fit(Team& team, const float* w, const float* s, int64_t n, int bits, bool sym, int shrink_steps,
                          float min_factor, const StoreScale& store, void* workspace, float* scale_out,
                          float* zero_out) {
  const int steps = shrink_steps < 1 ? 1 : shrink_steps;
  const int candidates = candidate_count(steps, sym);
  const bool sorted = sorted_regime(n, bits);
  const SortedScratch l = sorted_scratch(workspace, sorted_values(n, bits), candidates);
  const float maxq = float((1 << bits) - 1);
  if (sorted) {
    const int64_t p = sorted_pow2(n);
    team.for_each(p, [&](int64_t i) {
      l.key_v[i] = i < n ? w[i] : 0.0f;
      l.key_i[i] = int32_t(i);
    });
    // Bitonic sort by (value, index): a total order, so the result is the one sorted array.
    team_bitonic_sort(
        team, p,
        [&](int64_t i, int64_t j) { return sorted_before(l.key_v[i], l.key_i[i], l.key_v[j], l.key_i[j], n); },
        [&](int64_t i, int64_t j) {
          const float v = l.key_v[i];
          l.key_v[i] = l.key_v[j];
          l.key_v[j] = v;
          const int32_t k = l.key_i[i];
          l.key_i[i] = l.key_i[j];
          l.key_i[j] = k;
        });
  }
  // The range, folded from 0 in index order as the CPU folds it, beside (sorted regime) the three prefix sums:
  // sequential chains, one item each.
  team.for_each(sorted ? 4 : 1, [&](int64_t item) {
    if (item == 0) {
      float lo = 0.0f, hi = 0.0f;
      bool finite = true;
      for (int64_t i = 0; i < n; ++i) {
        lo = min_first(lo, w[i]);
        hi = max_first(hi, w[i]);
        finite = finite && is_finite(w[i]);
      }
      l.range[0] = lo;
      l.range[1] = hi;
      l.range[2] = finite ? 0.0f : 1.0f;
      return;
    }
    double* sum = item == 1 ? l.s0 : item == 2 ? l.s1 : l.s2;
    sum[0] = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double x = l.key_v[i], weight = s ? double(s[l.key_i[i]]) : 1.0;
      sum[i + 1] = sum[i] + (item == 1 ? weight : item == 2 ? weight * x : weight * x * x);
    }
  });
  const float lo = l.range[0], hi = l.range[1];
  const bool search = n > 0 && !(lo == 0.0f && hi == 0.0f) && l.range[2] == 0.0f;
  const Grid unshrunk = grid_of_range(lo, hi, bits, sym, store);
  const auto candidate = [&](int64_t k) {
    if (k == 0) return unshrunk;
    float a_lo, a_hi;
    candidate_range(int(k - 1), steps, sym, min_factor, lo, hi, &a_lo, &a_hi);
    return grid_of_range(a_lo, a_hi, bits, sym, store);
  };
  if (search)
    team.for_each(int64_t(candidates) + 1, [&](int64_t k) {
      l.loss[k] = sorted ? sorted_loss(l.key_v, l.s0, l.s1, l.s2, n, candidate(k), maxq)
                         : direct_row_loss(w, s, n, candidate(k), maxq);
    });
  team.for_each(1, [&](int64_t) {
    Grid best = unshrunk;
    if (search) {
      int64_t at = 0;
      for (int64_t k = 1; k <= candidates; ++k)
        if (l.loss[k] < l.loss[at]) at = k;
      best = candidate(at);
      // The ranking summed in another order; settle against min-max with a direct sum, as fit_row does.
      if ((best.scale != unshrunk.scale || best.zero != unshrunk.zero) &&
          direct_loss(w, s, n, best, maxq) > direct_loss(w, s, n, unshrunk, maxq))
        best = unshrunk;
    }
    *scale_out = l.range[2] != 0.0f ? NAN : best.scale;
    *zero_out = best.zero;
  });
}

}  // namespace loss_aware
}  // namespace sq
