#include "quant/grid_loss_aware_affine.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/backend.hpp"
#include "quant/grids.hpp"
#include "util/error.hpp"

namespace sq {
namespace affine_search {
namespace {

// One row sorted by value, with prefix sums (double) of s, s w and s w^2. For a fixed grid the code of a
// value is non-decreasing in the value (division by a positive scale, clamping and rounding are all
// monotone), so each level's members are a contiguous run of the sorted row, found by binary search
// with the exact rounding rule; the run's error sum s (w - v)^2 = S2 - 2 v S1 + v^2 S0 comes from the
// prefix sums. Rounding in double is far below the float sums a direct pass would use to rank.
class SortedRow {
 public:
  SortedRow(const float* w, const float* s, int64_t n)
      : w_(static_cast<size_t>(n)), s0_(size_t(n) + 1), s1_(size_t(n) + 1), s2_(size_t(n) + 1) {
    std::vector<std::pair<float, float>> pairs(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pairs[size_t(i)] = {w[i], s ? s[i] : 1.0f};
    std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < pairs.size(); ++i) {
      const double x = pairs[i].first, weight = pairs[i].second;
      w_[i] = pairs[i].first;
      s0_[i + 1] = s0_[i] + weight;
      s1_[i + 1] = s1_[i] + weight * x;
      s2_[i + 1] = s2_[i] + weight * x * x;
    }
  }

  double loss(Params p, float maxq) const {
    const int64_t n = int64_t(w_.size());
    double total = 0.0;
    for (int64_t begin = 0; begin < n;) {
      const float code = code_of(w_[size_t(begin)], p.scale, p.zero, maxq);
      // First index past the run of this code: the code only grows along the sorted row.
      // Branch-free (the comparisons are unpredictable).
      int64_t lo = begin + 1, len = n - lo;
      while (len > 0) {
        const int64_t half = len / 2;
        const bool same = code_of(w_[size_t(lo + half)], p.scale, p.zero, maxq) <= code;
        lo = same ? lo + half + 1 : lo;
        len = same ? len - half - 1 : half;
      }
      const double v = double(p.scale * (code - p.zero));  // the value rounding produces, in float
      const double S0 = s0_[size_t(lo)] - s0_[size_t(begin)], S1 = s1_[size_t(lo)] - s1_[size_t(begin)],
                   S2 = s2_[size_t(lo)] - s2_[size_t(begin)];
      total += std::max(0.0, S2 - 2.0 * v * S1 + v * v * S0);
      begin = lo;
    }
    return total;
  }

 private:
  std::vector<float> w_;
  std::vector<double> s0_, s1_, s2_;
};

}  // namespace

Params from_range(float lo, float hi, int bits, bool sym, ScaleStorage storage) {
  const float maxq = float((1 << bits) - 1);
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  Params p;
  if (sym) {
    float amax = std::max(-lo, hi);
    if (amax == 0.0f) amax = 1.0f;
    p.scale = stored_scale(2.0f * amax / maxq, storage);
    p.zero = float(1 << (bits - 1));
    return p;
  }
  if (lo == 0.0f && hi == 0.0f) {
    lo = -1.0f;
    hi = 1.0f;
  }
  const float scale = (hi - lo) / maxq;
  p.zero = std::min(std::max(std::nearbyint(-lo / scale), 0.0f), maxq);
  p.scale = stored_scale(scale, storage);
  return p;
}

double weighted_loss(const float* w, const float* s, int64_t n, Params p, int bits) {
  const float maxq = float((1 << bits) - 1);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = p.scale * (code_of(w[i], p.scale, p.zero, maxq) - p.zero);
    const double d = double(w[i]) - double(v);
    total += (s ? double(s[i]) : 1.0) * d * d;
  }
  return total;
}

Params fit_row(const float* w, const float* s, int64_t n, const LossAwareAffineOptions& options) {
  const int bits = options.bits;
  const float maxq = float((1 << bits) - 1);
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i]))
      throw_error(SQ_ERR_NUMERIC, "loss-aware affine grid: weight ", i, " of the row is ", w[i]);
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  const Params unshrunk = from_range(lo, hi, bits, options.sym, options.scale_storage);
  if (n == 0 || (lo == 0.0f && hi == 0.0f)) return unshrunk;

  const int steps = std::max(1, options.shrink_steps);
  std::vector<float> factors(size_t(steps), 1.0f);
  for (int i = 1; i < steps; ++i) factors[size_t(i)] = 1.0f - (1.0f - options.min_factor) * float(i) / float(steps - 1);

  const SortedRow row(w, s, n);
  Params best = unshrunk;
  double best_loss = row.loss(unshrunk, maxq);
  auto consider = [&](float a_lo, float a_hi) {
    const Params p = from_range(a_lo, a_hi, bits, options.sym, options.scale_storage);
    if (p.scale == best.scale && p.zero == best.zero) return;
    const double loss = row.loss(p, maxq);
    if (loss < best_loss) {
      best_loss = loss;
      best = p;
    }
  };
  if (options.sym) {
    for (int c = 1; c < steps; ++c) consider(lo * factors[size_t(c)], hi * factors[size_t(c)]);
  } else {
    for (int a = 0; a < steps; ++a)
      for (int c = 0; c < steps; ++c)
        if (a != 0 || c != 0) consider(lo * factors[size_t(a)], hi * factors[size_t(c)]);
  }
  // The ranking used prefix-sum differences; settle the final choice against min-max with a direct sum
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
