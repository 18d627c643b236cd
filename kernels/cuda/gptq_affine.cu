#include <cuda_fp16.h>

#include "cuda/gptq_affine.cuh"

namespace sq::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kSlots = int(kMaxBlockColumns / 32);  // block columns each lane holds

// One warp per row: min and max over the group's columns (the grid always contains 0), then the published
// GPTQ quantizer's scale and zero point, in fp32 as on the CPU (grid_minmax_affine.cpp).
__global__ void minmax_affine_fit_kernel(const float* w, int64_t ld, int64_t rows, int64_t width, float maxq,
                                         bool sym, bool f16_scales, float* scales, float* zeros) {
  const int lane = threadIdx.x % 32;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;  // a whole warp leaves together
  const float* row = w + r * ld;
  float xmin = 0.0f, xmax = 0.0f;
  for (int64_t j = lane; j < width; j += 32) {
    xmin = fminf(xmin, row[j]);
    xmax = fmaxf(xmax, row[j]);
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    xmin = fminf(xmin, __shfl_xor_sync(kFull, xmin, offset));
    xmax = fmaxf(xmax, __shfl_xor_sync(kFull, xmax, offset));
  }
  if (lane != 0) return;
  if (sym) {
    xmax = fmaxf(fabsf(xmin), xmax);
    if (xmin < 0.0f) xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  const float scale = (xmax - xmin) / maxq;
  float stored = scale;
  if (f16_scales) {
    stored = __half2float(__float2half_rn(scale));  // inf above the fp16 range: the host reports it
    if (stored == 0.0f && scale > 0.0f) stored = 5.9604644775390625e-8f;  // smallest fp16 subnormal, 2^-24
  }
  scales[r] = stored;
  zeros[r] = sym ? (maxq + 1.0f) / 2.0f : rintf(-xmin / scale);  // zero from the unrounded scale
}

// One warp per row; lane l holds block columns l, l + 32, ... in registers. Column c's value is broadcast
// from its lane, rounded, and its error pushed onto the later columns of the block, exactly as
// round_column_rows in solver_gptq.cpp (products rounded before the subtraction: no fused multiply-add,
// so near-ties round as on the CPU).
__global__ void gptq_affine_block_kernel(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1,
                                         int width, const float* scales, const float* zeros,
                                         const int32_t* group_of, float maxq, uint8_t* codes, float* err,
                                         int64_t ld_err) {
  const int lane = threadIdx.x % 32;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;
  float* wr = w + r * cols + i1;
  float v[kSlots];
#pragma unroll
  for (int s = 0; s < kSlots; ++s) v[s] = lane + 32 * s < width ? wr[lane + 32 * s] : 0.0f;
  for (int c = 0; c < width; ++c) {
    const int owner = c % 32, slot = c / 32;
    float mine = 0.0f;
#pragma unroll
    for (int s = 0; s < kSlots; ++s)
      if (s == slot) mine = v[s];
    const float x = __shfl_sync(kFull, mine, owner);
    const int64_t col = i1 + c;
    const int64_t g = group_of[col];
    const float scale = scales[g * rows + r], zero = zeros[g * rows + r];
    const float q = fminf(fmaxf(rintf(x / scale) + zero, 0.0f), maxq);
    const float value = scale * (q - zero);
    const float e = (x - value) / u[col * cols + col];
    if (lane == owner) {
      codes[r * cols + col] = uint8_t(q);
      err[r * ld_err + c] = e;
    }
    const float* u_row = u + col * cols + i1;
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      const int j = lane + 32 * s;
      if (j == c) v[s] = value;
      else if (j > c && j < width) v[s] = v[s] - __fmul_rn(e, u_row[j]);
    }
  }
#pragma unroll
  for (int s = 0; s < kSlots; ++s)
    if (lane + 32 * s < width) wr[lane + 32 * s] = v[s];
}

unsigned warp_blocks(int64_t rows) { return unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock); }

}  // namespace

cudaError_t launch_minmax_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, int bits, bool sym,
                                     bool f16_scales, float* scales, float* zeros, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  minmax_affine_fit_kernel<<<warp_blocks(rows), kWarpsPerBlock * 32, 0, stream>>>(
      w, ld, rows, width, float((1 << bits) - 1), sym, f16_scales, scales, zeros);
  return cudaGetLastError();
}

cudaError_t launch_gptq_affine_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                     const float* scales, const float* zeros, const int32_t* group_of, int bits,
                                     uint8_t* codes, float* err, int64_t ld_err, cudaStream_t stream) {
  if (rows <= 0 || i2 <= i1) return cudaSuccess;
  if (i2 - i1 > kMaxBlockColumns) return cudaErrorInvalidValue;
  gptq_affine_block_kernel<<<warp_blocks(rows), kWarpsPerBlock * 32, 0, stream>>>(
      w, rows, cols, u, i1, int(i2 - i1), scales, zeros, group_of, float((1 << bits) - 1), codes, err, ld_err);
  return cudaGetLastError();
}

}  // namespace sq::cuda
