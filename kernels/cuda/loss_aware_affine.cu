// The LeanQuant loss-aware affine grid search, one warp per row, reproducing the CPU search
// (quant/grid_loss_aware_affine.cpp, DirectRow regime) bit for bit: the same candidates in the same order and
// the same codes (both from kernels/portable/loss_aware_affine.hpp), every product rounded on its own (this
// file is compiled with --fmad=false), and each candidate's loss summed in double in the CPU's order (four
// interleaved partial sums), so the same grid wins every comparison.

#include "cuda/gptq_affine.cuh"
#include "cuda/scale_storage.cuh"
#include "portable/loss_aware_affine.hpp"

namespace sq::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kSlots = int(kMaxLossAwareWidth / 32);

using loss_aware::Grid;

struct DeviceStoredScale {
  bool f16;
  __device__ float operator()(float scale) const { return stored_scale(scale, f16); }
};

__device__ float value_of(float x, Grid p, float maxq) {
  return p.scale * (loss_aware::code_of(x, p.scale, p.zero, maxq) - p.zero);
}

// DirectRow::loss: terms s (w - q(w))^2 in fp32, summed in double as acc[i % 4] then (a0 + a1) + (a2 + a3),
// with the tail past the last multiple of 4 added to acc[0]. Every lane returns the total.
__device__ double direct_loss(const float (&x)[kSlots], const float (&s)[kSlots], int n, Grid p, float maxq,
                              float* terms, int lane) {
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int i = lane + 32 * k;
    if (i < n) {
      const float d = __fsub_rn(x[k], value_of(x[k], p, maxq));
      terms[i] = __fmul_rn(__fmul_rn(s[k], d), d);
    }
  }
  __syncwarp();
  double acc = 0.0;
  const int body = n / 4 * 4;
  if (lane < 4)
    for (int i = lane; i < body; i += 4) acc = __dadd_rn(acc, double(terms[i]));
  if (lane == 0)
    for (int i = body; i < n; ++i) acc = __dadd_rn(acc, double(terms[i]));
  const double a1 = __shfl_sync(kFull, acc, 1), a2 = __shfl_sync(kFull, acc, 2), a3 = __shfl_sync(kFull, acc, 3);
  const double total = __dadd_rn(__dadd_rn(acc, a1), __dadd_rn(a2, a3));  // meaningful on lane 0
  __syncwarp();  // terms is rewritten by the next candidate
  return __shfl_sync(kFull, total, 0);
}

// affine_search::weighted_loss: one sequential double sum (lane 0), for the final check against min-max.
__device__ double sequential_loss(const float (&x)[kSlots], const float (&s)[kSlots], int n, Grid p, float maxq,
                                  float* terms, float* weights, int lane) {
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int i = lane + 32 * k;
    if (i < n) {
      terms[i] = x[k];
      weights[i] = s[k];
    }
  }
  __syncwarp();
  const double total = lane == 0 ? loss_aware::direct_loss(terms, weights, n, p, maxq) : 0.0;
  __syncwarp();
  return __shfl_sync(kFull, total, 0);
}

__global__ void loss_aware_affine_fit_kernel(const float* w, int64_t ld, int64_t rows, int n, const float* importance,
                                             int bits, bool sym, int steps, float min_factor, bool f16,
                                             float* scales, float* zeros) {
  __shared__ float terms_all[kWarpsPerBlock][kMaxLossAwareWidth];
  __shared__ float weights_all[kWarpsPerBlock][kMaxLossAwareWidth];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + warp;
  if (r >= rows) return;  // a whole warp leaves together
  float* terms = terms_all[warp];
  const float maxq = float((1 << bits) - 1);
  float x[kSlots], s[kSlots];
  // The range as the CPU folds it from 0 (min_first and max_first, so a -0 never replaces +0); a non-finite
  // value makes the row's scale NaN, for the caller to report (the CPU throws).
  float lo = 0.0f, hi = 0.0f;
  bool finite = true;
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int i = lane + 32 * k;
    x[k] = i < n ? w[r * ld + i] : 0.0f;
    s[k] = i < n && importance ? importance[i] : 1.0f;
    lo = min_first(lo, x[k]);
    hi = max_first(hi, x[k]);
    finite = finite && loss_aware::is_finite(x[k]);
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    lo = min_first(lo, __shfl_xor_sync(kFull, lo, offset));
    hi = max_first(hi, __shfl_xor_sync(kFull, hi, offset));
  }
  finite = __all_sync(kFull, finite);
  const DeviceStoredScale store{f16};
  const Grid unshrunk = loss_aware::grid_of_range(lo, hi, bits, sym, store);
  Grid best = unshrunk;
  if (finite && n > 0 && !(lo == 0.0f && hi == 0.0f)) {
    double best_loss = direct_loss(x, s, n, unshrunk, maxq, terms, lane);
    steps = steps < 1 ? 1 : steps;
    // The candidates in the CPU's order; one equal to the best so far is skipped, as there.
    for (int k = 0; k < loss_aware::candidate_count(steps, sym); ++k) {
      float a_lo, a_hi;
      loss_aware::candidate_range(k, steps, sym, min_factor, lo, hi, &a_lo, &a_hi);
      const Grid p = loss_aware::grid_of_range(a_lo, a_hi, bits, sym, store);
      if (p.scale == best.scale && p.zero == best.zero) continue;
      const double loss = direct_loss(x, s, n, p, maxq, terms, lane);
      if (loss < best_loss) {
        best_loss = loss;
        best = p;
      }
    }
    if (best.scale != unshrunk.scale || best.zero != unshrunk.zero) {
      float* weights = weights_all[warp];
      if (sequential_loss(x, s, n, best, maxq, terms, weights, lane) >
          sequential_loss(x, s, n, unshrunk, maxq, terms, weights, lane))
        best = unshrunk;
    }
  }
  if (lane == 0) {
    scales[r] = finite ? best.scale : NAN;
    zeros[r] = best.zero;
  }
}

}  // namespace

cudaError_t launch_loss_aware_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width,
                                         const float* importance, int bits, bool sym, int shrink_steps,
                                         float min_factor, bool f16_scales, float* scales, float* zeros,
                                         cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (width > kMaxLossAwareWidth) return cudaErrorInvalidValue;
  const unsigned blocks = unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  loss_aware_affine_fit_kernel<<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
      w, ld, rows, int(width), importance, bits, sym, shrink_steps, min_factor, f16_scales, scales, zeros);
  return cudaGetLastError();
}

}  // namespace sq::cuda
