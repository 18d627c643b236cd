#include "quant/grid_loss_aware_affine.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "backend/backend.hpp"
#include "quant/grids.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {
namespace affine_search {
namespace {

// Indices of w (finite values) in ascending order. Long rows use an LSD radix sort on order-preserving
// integer keys (3 passes of 11 bits): a comparison sort was most of the search time on 11008-wide rows.
std::vector<uint32_t> ascending_order(const float* w, int64_t n) {
  std::vector<uint32_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = uint32_t(i);
  if (n < 1024) {  // ties by index, as the radix sort below and the device's sort order them
    std::sort(idx.begin(), idx.end(), [w](uint32_t a, uint32_t b) { return w[a] < w[b] || (w[a] == w[b] && a < b); });
    return idx;
  }
  std::vector<uint32_t> key(static_cast<size_t>(n)), key_tmp(static_cast<size_t>(n)), idx_tmp(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = w[i] == 0.0f ? 0u : float_to_bits(w[i]);  // -0 ties with +0, as under <
    key[size_t(i)] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // negatives reversed, below positives
  }
  constexpr int kRadixBits = 11;
  constexpr uint32_t kBuckets = 1u << kRadixBits;
  std::vector<size_t> start(kBuckets + 1);
  for (int shift = 0; shift < 32; shift += kRadixBits) {
    std::fill(start.begin(), start.end(), size_t(0));
    for (uint32_t k : key) ++start[((k >> shift) & (kBuckets - 1)) + 1];
    for (uint32_t b = 0; b < kBuckets; ++b) start[b + 1] += start[b];
    for (size_t i = 0; i < key.size(); ++i) {
      const size_t pos = start[(key[i] >> shift) & (kBuckets - 1)]++;
      key_tmp[pos] = key[i];
      idx_tmp[pos] = idx[i];
    }
    key.swap(key_tmp);
    idx.swap(idx_tmp);
  }
  return idx;
}

// One row sorted by (value, index), with prefix sums (double) of s, s w and s w^2; a candidate's loss is then a
// sum over its occupied levels (loss_aware::sorted_loss). Rounding in double is far below the float sums a
// direct pass would use to rank.
class SortedRow {
 public:
  SortedRow(const float* w, const float* s, int64_t n)
      : w_(static_cast<size_t>(n)), s0_(size_t(n) + 1), s1_(size_t(n) + 1), s2_(size_t(n) + 1) {
    const std::vector<uint32_t> order = ascending_order(w, n);
    for (size_t i = 0; i < order.size(); ++i) {
      const uint32_t j = order[i];
      const double x = w[j], weight = s ? double(s[j]) : 1.0;
      w_[i] = w[j];
      s0_[i + 1] = s0_[i] + weight;
      s1_[i + 1] = s1_[i] + weight * x;
      s2_[i + 1] = s2_[i] + weight * x * x;
    }
  }

  double loss(Params p, float maxq) const {
    return loss_aware::sorted_loss(w_.data(), s0_.data(), s1_.data(), s2_.data(), int64_t(w_.size()),
                                   loss_aware::Grid{p.scale, p.zero}, maxq);
  }

 private:
  std::vector<float> w_;
  std::vector<double> s0_, s1_, s2_;
};

// Weighted squared errors t[i] = s[i] (w[i] - q(w[i]))^2 of one grid, bit-identical to code_of. GCC keeps
// the scalar loop unvectorized under the default -ftrapping-math (it will not turn the clamps into
// min/max), so SSE2 does four values at a time: division, min/max and the add-and-subtract rounding are
// the same IEEE operations as the scalar code, so every code and term is unchanged.
void weighted_terms(const float* w, const float* s, int64_t n, Params p, float maxq, float* t) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128 scale = _mm_set1_ps(p.scale), zero = _mm_set1_ps(p.zero), magic = _mm_set1_ps(12582912.0f);
  const __m128 t_lo = _mm_set1_ps(-p.zero - 1.0f), t_hi = _mm_set1_ps(maxq - p.zero + 1.0f);
  const __m128 c_lo = _mm_setzero_ps(), c_hi = _mm_set1_ps(maxq);
  for (; i + 4 <= n; i += 4) {
    const __m128 x = _mm_loadu_ps(w + i);
    __m128 q = _mm_min_ps(_mm_max_ps(_mm_div_ps(x, scale), t_lo), t_hi);
    q = _mm_sub_ps(_mm_add_ps(q, magic), magic);
    q = _mm_min_ps(_mm_max_ps(_mm_add_ps(q, zero), c_lo), c_hi);
    const __m128 d = _mm_sub_ps(x, _mm_mul_ps(scale, _mm_sub_ps(q, zero)));
    _mm_storeu_ps(t + i, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(s + i), d), d));
  }
#endif
  for (; i < n; ++i) {
    const float d = w[i] - p.scale * (code_of(w[i], p.scale, p.zero, maxq) - p.zero);
    t[i] = s[i] * d * d;
  }
}

// Short rows (a 128-column group): one direct pass is cheaper than 2^b binary searches. The terms are
// summed in double with 4 partial sums.
class DirectRow {
 public:
  DirectRow(const float* w, const float* s, int64_t n)
      : w_(w, w + n), s_(s ? std::vector<float>(s, s + n) : std::vector<float>(size_t(n), 1.0f)), terms_(size_t(n)) {}

  double loss(Params p, float maxq) const {
    const int64_t n = int64_t(w_.size());
    weighted_terms(w_.data(), s_.data(), n, p, maxq, terms_.data());
    const float* t = terms_.data();
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int l = 0; l < 4; ++l) acc[l] += double(t[i + l]);
    for (; i < n; ++i) acc[0] += double(t[i]);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }

 private:
  std::vector<float> w_, s_;
  mutable std::vector<float> terms_;  // scratch; a DirectRow lives in one thread's fit_row call
};

template <typename Row>
Params search(const Row& row, float lo, float hi, const LossAwareAffineOptions& options, Params unshrunk) {
  const int bits = options.bits;
  const float maxq = float((1 << bits) - 1);
  const int steps = std::max(1, options.shrink_steps);
  Params best = unshrunk;
  double best_loss = row.loss(unshrunk, maxq);
  for (int k = 0; k < loss_aware::candidate_count(steps, options.sym); ++k) {
    float a_lo, a_hi;
    loss_aware::candidate_range(k, steps, options.sym, options.min_factor, lo, hi, &a_lo, &a_hi);
    const Params p = from_range(a_lo, a_hi, bits, options.sym, options.scale_storage);
    if (p.scale == best.scale && p.zero == best.zero) continue;
    const double loss = row.loss(p, maxq);
    if (loss < best_loss) {
      best_loss = loss;
      best = p;
    }
  }
  return best;
}

}  // namespace

Params from_range(float lo, float hi, int bits, bool sym, ScaleStorage storage) {
  const loss_aware::Grid g =
      loss_aware::grid_of_range(lo, hi, bits, sym, [storage](float scale) { return stored_scale(scale, storage); });
  return Params{g.scale, g.zero};
}

double weighted_loss(const float* w, const float* s, int64_t n, Params p, int bits) {
  return loss_aware::direct_loss(w, s, n, loss_aware::Grid{p.scale, p.zero}, float((1 << bits) - 1));
}

double direct_ranking_loss(const float* w, const float* s, int64_t n, Params p, int bits) {
  return DirectRow(w, s, n).loss(p, float((1 << bits) - 1));
}

Params fit_row(const float* w, const float* s, int64_t n, const LossAwareAffineOptions& options) {
  const int bits = options.bits;
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i]))
      throw_error(SQ_ERR_NUMERIC, "loss-aware affine grid: weight ", i, " of the row is ", w[i]);
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  const Params unshrunk = from_range(lo, hi, bits, options.sym, options.scale_storage);
  if (n == 0 || (lo == 0.0f && hi == 0.0f)) return unshrunk;

  Params best = loss_aware::sorted_regime(n, bits) ? search(SortedRow(w, s, n), lo, hi, options, unshrunk)
                                 : search(DirectRow(w, s, n), lo, hi, options, unshrunk);
  // The ranking used other summation orders; settle the final choice against min-max with a direct sum
  // so the guarantee "never worse than min-max" holds for the loss as weighted_loss measures it.
  if (best.scale != unshrunk.scale || best.zero != unshrunk.zero) {
    if (weighted_loss(w, s, n, best, bits) > weighted_loss(w, s, n, unshrunk, bits)) best = unshrunk;
  }
  return best;
}

}  // namespace affine_search

namespace {

class LossAwareAffineGroupGrid final : public GroupGrid {
 public:
  LossAwareAffineGroupGrid(int bits, std::vector<float> scales, std::vector<float> zeros)
      : maxq_(float((1 << bits) - 1)), scales_(std::move(scales)), zeros_(std::move(zeros)) {}

  void quantize_column(const float* w, int64_t rows, uint8_t* codes, float* values) const override {
    if (rows != int64_t(scales_.size()))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "affine grid: column has ", rows, " rows; the grid was fitted to ",
                  scales_.size());
    for (int64_t r = 0; r < rows; ++r) {
      const float code = affine_search::code_of(w[r], scales_[size_t(r)], zeros_[size_t(r)], maxq_);
      codes[r] = uint8_t(code);
      values[r] = scales_[size_t(r)] * (code - zeros_[size_t(r)]);
    }
  }

  void store(QuantizedLayer& out) const override {
    out.scales.insert(out.scales.end(), scales_.begin(), scales_.end());
    out.zeros.insert(out.zeros.end(), zeros_.begin(), zeros_.end());
  }

 private:
  float maxq_;
  std::vector<float> scales_, zeros_;
};

class LossAwareAffineGrid final : public Grid {
 public:
  explicit LossAwareAffineGrid(const LossAwareAffineOptions& options) : options_(options) {
    if (options.bits < 1 || options.bits > 8)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "loss-aware affine grid: bits must be 1..8; got ", options.bits);
    if (!(options.min_factor > 0.0f && options.min_factor <= 1.0f))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "loss-aware affine grid: min_factor must be in (0, 1]; got ",
                  options.min_factor);
  }
  GridKind kind() const override { return GridKind::Affine; }
  int bits() const override { return options_.bits; }

  std::unique_ptr<GroupGrid> fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                 const float* importance) const override {
    if (rows < 0 || ncols < 0 || ld < ncols)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "affine grid: bad block shape rows ", rows, " cols ", ncols, " ld ", ld);
    std::vector<float> scales(static_cast<size_t>(rows)), zeros(static_cast<size_t>(rows));
    std::vector<float> ones;
    if (!importance) {
      ones.assign(size_t(ncols), 1.0f);
      importance = ones.data();
    }
    Backend& backend = options_.backend ? *options_.backend : default_cpu_backend();
    backend.parallel_for(rows, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const affine_search::Params p = affine_search::fit_row(w + r * ld, importance, ncols, options_);
        scales[size_t(r)] = p.scale;
        zeros[size_t(r)] = p.zero;
      }
    });
    return std::make_unique<LossAwareAffineGroupGrid>(options_.bits, std::move(scales), std::move(zeros));
  }

 private:
  LossAwareAffineOptions options_;
};

}  // namespace

std::unique_ptr<Grid> make_loss_aware_affine_grid(const LossAwareAffineOptions& options) {
  return std::make_unique<LossAwareAffineGrid>(options);
}

std::unique_ptr<Grid> make_loss_aware_affine_grid(int bits, bool sym, ScaleStorage storage) {
  LossAwareAffineOptions options;
  options.bits = bits;
  options.sym = sym;
  options.scale_storage = storage;
  return make_loss_aware_affine_grid(options);
}

}  // namespace sq
