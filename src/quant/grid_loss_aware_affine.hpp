// LeanQuant affine grid: per row (of a group), the uniform b-bit grid (scale, integer zero) that minimizes
// the importance-weighted error sum_j s_j (w_j - q(w_j))^2, found by enumerating shrunk ranges
// (min * a, max * c) with a, c on an even grid of factors in [min_factor, 1]. The unshrunk range is one of
// the candidates, so the result is never worse than min-max under the weighted loss. The output is a plain
// GPTQ affine grid: q = clamp(round(w / scale) + zero, 0, maxq), value = scale * (q - zero). Every candidate's
// scale is stored as options.scale_storage says (fp16 by default) before its error is measured, so the
// search ranks the grids a checkpoint reader will actually see.
//
// Cost: the row is sorted once with prefix sums of s, s w, s w^2 (double); a candidate's error is then a
// sum over its occupied levels (the code of a value is non-decreasing in the value), O(2^b log n)
// instead of a pass over the row.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>

#include "portable/loss_aware_affine.hpp"
#include "quant/grid.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

class Backend;

struct LossAwareAffineOptions {
  int bits = 4;               // 1..8
  bool sym = false;           // symmetric: zero = 2^(b-1), only the magnitude is shrunk
  int shrink_steps = 20;      // factors per side: 1, ..., min_factor evenly spaced (20 x 20 pairs asym)
  float min_factor = 0.5f;
  ScaleStorage scale_storage = ScaleStorage::F16;  // see scale_storage.hpp
  Backend* backend = nullptr; // host threads for the per-row search; null: the process-wide CPU backend
};

std::unique_ptr<Grid> make_loss_aware_affine_grid(const LossAwareAffineOptions& options);

namespace affine_search {

struct Params {
  float scale = 1.0f;
  float zero = 0.0f;  // an integer in [0, maxq]
};

// The GPTQ min-max convention on a range: the range is widened to include 0 (so zero is an exact level);
// asym: scale = (hi - lo) / maxq, zero = round(-lo / scale); sym: scale = 2 max(|lo|, |hi|) / maxq,
// zero = (maxq + 1) / 2. An all-zero range becomes [-1, 1]. The zero comes from the unrounded scale; the
// returned scale is the stored one.
Params from_range(float lo, float hi, int bits, bool sym, ScaleStorage storage);

// The code of x: clamp(round_half_even(x / scale) + zero, 0, maxq) (kernels/portable/loss_aware_affine.hpp).
inline float code_of(float x, float scale, float zero, float maxq) { return loss_aware::code_of(x, scale, zero, maxq); }

// sum_j s_j (w_j - q(w_j))^2 in double (s null: ones).
double weighted_loss(const float* w, const float* s, int64_t n, Params p, int bits);

// The loss the search ranks candidates by in its direct-sum regime (rows under 32 values per level): the same
// sum, in fp32 terms and four interleaved double partial sums (loss_aware::direct_row_loss is its portable form).
double direct_ranking_loss(const float* w, const float* s, int64_t n, Params p, int bits);

// The loss-aware search on one row.
Params fit_row(const float* w, const float* s, int64_t n, const LossAwareAffineOptions& options);

}  // namespace affine_search
}  // namespace sq
