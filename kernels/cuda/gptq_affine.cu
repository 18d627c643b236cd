#include "cuda/affine_rounding.cuh"
#include "cuda/gptq_affine.cuh"
#include "cuda/gptq_block_kernel.cuh"
#include "cuda/scale_storage.cuh"
#include "portable/portable.hpp"

namespace sq::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr unsigned kFull = 0xffffffffu;

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
    xmin = min_first(xmin, row[j]);  // as std::min and std::max on the CPU, signed zeros included
    xmax = max_first(xmax, row[j]);
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    xmin = min_first(xmin, __shfl_xor_sync(kFull, xmin, offset));
    xmax = max_first(xmax, __shfl_xor_sync(kFull, xmax, offset));
  }
  if (lane != 0) return;
  if (sym) {
    xmax = max_first(fabsf(xmin), xmax);
    if (xmin < 0.0f) xmin = -xmax;
  }
  if (xmin == 0.0f && xmax == 0.0f) {
    xmin = -1.0f;
    xmax = 1.0f;
  }
  const float scale = (xmax - xmin) / maxq;
  scales[r] = stored_scale(scale, f16_scales);
  zeros[r] = sym ? (maxq + 1.0f) / 2.0f : rintf(-xmin / scale);  // zero from the unrounded scale
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
  const AffineRounding grid{scales, zeros, rows, float((1 << bits) - 1)};
  gptq_block_kernel<int(kMaxBlockColumns / 32)><<<sweep_grid_blocks(rows), kSweepWarpsPerBlock * 32, 0, stream>>>(
      w, rows, cols, u, i1, int(i2 - i1), grid, group_of, codes, err, ld_err);
  return cudaGetLastError();
}

}  // namespace sq::cuda
