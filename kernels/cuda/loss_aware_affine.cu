// The LeanQuant loss-aware affine grid search, one warp per row, reproducing the CPU search
// (quant/grid_loss_aware_affine.cpp, DirectRow regime) bit for bit: the same candidates in the same order,
// codes by the same add-and-subtract rounding, every product rounded on its own (no fused multiply-add),
// and each candidate's loss summed in double in the CPU's order (four interleaved partial sums), so the
// same grid wins every comparison.

#include "cuda/gptq_affine.cuh"
#include "cuda/scale_storage.cuh"

namespace sq::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kSlots = int(kMaxLossAwareWidth / 32);

struct Params {
  float scale, zero;
};

// affine_search::from_range.
__device__ Params from_range(float lo, float hi, int bits, bool sym, bool f16) {
  const float maxq = float((1 << bits) - 1);
  lo = fminf(lo, 0.0f);
  hi = fmaxf(hi, 0.0f);
  if (sym) {
    float amax = fmaxf(-lo, hi);
    if (amax == 0.0f) amax = 1.0f;
    return {stored_scale(__fdiv_rn(__fmul_rn(2.0f, amax), maxq), f16), float(1 << (bits - 1))};
  }
  if (lo == 0.0f && hi == 0.0f) {
    lo = -1.0f;
    hi = 1.0f;
  }
  const float scale = __fdiv_rn(__fsub_rn(hi, lo), maxq);
  const float zero = fminf(fmaxf(rintf(__fdiv_rn(-lo, scale)), 0.0f), maxq);
  return {stored_scale(scale, f16), zero};
}

// affine_search::code_of.
__device__ float code_of(float x, Params p, float maxq) {
  float t = __fdiv_rn(x, p.scale);
  t = fminf(fmaxf(t, -p.zero - 1.0f), __fadd_rn(__fsub_rn(maxq, p.zero), 1.0f));
  const float r = __fsub_rn(__fadd_rn(t, 12582912.0f), 12582912.0f);
  return fminf(fmaxf(__fadd_rn(r, p.zero), 0.0f), maxq);
}

__device__ float value_of(float x, Params p, float maxq) {
  return __fmul_rn(p.scale, __fsub_rn(code_of(x, p, maxq), p.zero));
}

// DirectRow::loss: terms s (w - q(w))^2 in fp32, summed in double as acc[i % 4] then (a0 + a1) + (a2 + a3),
// with the tail past the last multiple of 4 added to acc[0]. Every lane returns the total.
__device__ double direct_loss(const float (&x)[kSlots], const float (&s)[kSlots], int n, Params p, float maxq,
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
__device__ double sequential_loss(const float (&x)[kSlots], const float (&s)[kSlots], int n, Params p, float maxq,
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
  double total = 0.0;
  if (lane == 0)
    for (int i = 0; i < n; ++i) {
      const double d = __dsub_rn(double(terms[i]), double(value_of(terms[i], p, maxq)));
      total = __dadd_rn(total, __dmul_rn(__dmul_rn(double(weights[i]), d), d));
    }
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
  float lo = 0.0f, hi = 0.0f;
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int i = lane + 32 * k;
    x[k] = i < n ? w[r * ld + i] : 0.0f;
    s[k] = i < n && importance ? importance[i] : 1.0f;
    lo = fminf(lo, x[k]);
    hi = fmaxf(hi, x[k]);
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    lo = fminf(lo, __shfl_xor_sync(kFull, lo, offset));
    hi = fmaxf(hi, __shfl_xor_sync(kFull, hi, offset));
  }
  const Params unshrunk = from_range(lo, hi, bits, sym, f16);
  Params best = unshrunk;
  if (n > 0 && !(lo == 0.0f && hi == 0.0f)) {
    double best_loss = direct_loss(x, s, n, unshrunk, maxq, terms, lane);
    steps = steps < 1 ? 1 : steps;
    auto factor = [&](int i) {
      return i == 0 ? 1.0f
                    : __fsub_rn(1.0f, __fdiv_rn(__fmul_rn(__fsub_rn(1.0f, min_factor), float(i)), float(steps - 1)));
    };
    auto consider = [&](float a_lo, float a_hi) {
      const Params p = from_range(a_lo, a_hi, bits, sym, f16);
      if (p.scale == best.scale && p.zero == best.zero) return;
      const double loss = direct_loss(x, s, n, p, maxq, terms, lane);
      if (loss < best_loss) {
        best_loss = loss;
        best = p;
      }
    };
    if (sym) {
      for (int c = 1; c < steps; ++c) consider(__fmul_rn(lo, factor(c)), __fmul_rn(hi, factor(c)));
    } else {
      for (int a = 0; a < steps; ++a)
        for (int c = 0; c < steps; ++c)
          if (a != 0 || c != 0) consider(__fmul_rn(lo, factor(a)), __fmul_rn(hi, factor(c)));
    }
    if (best.scale != unshrunk.scale || best.zero != unshrunk.zero) {
      float* weights = weights_all[warp];
      if (sequential_loss(x, s, n, best, maxq, terms, weights, lane) >
          sequential_loss(x, s, n, unshrunk, maxq, terms, weights, lane))
        best = unshrunk;
    }
  }
  if (lane == 0) {
    scales[r] = best.scale;
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
