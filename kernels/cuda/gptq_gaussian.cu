// The HIGGS scalar Gaussian grid on the device, from the source the CPU grid uses
// (kernels/portable/gaussian_scalar.hpp). Compiled with --fmad=false (cmake/Cuda.cmake).
#include "cuda/gptq_affine.cuh"
#include "cuda/gptq_block_kernel.cuh"
#include "cuda/gptq_gaussian.cuh"
#include "cuda/scale_storage.cuh"
#include "portable/gaussian_scalar.hpp"

namespace sq::cuda {
namespace {

constexpr int kThreads = 128;

// One thread per row: the CPU sums each row's squares in index order, so one thread keeps that order.
__global__ void rms_scale_fit_kernel(const float* w, int64_t ld, int64_t rows, int64_t width, bool f16_scales,
                                     float* scales) {
  const int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  scales[r] = stored_scale(rms_of(w + r * ld, width), f16_scales);
}

// HiggsScalarGroup::quantize_column for row r of group g.
struct GaussianRounding {
  const float* scales;
  const float* points;
  const float* mid;
  int64_t rows;
  int n;
  __device__ float round(int64_t g, int64_t r, float x, int* code) const {
    const float s = scales[g * rows + r];
    *code = scalar_grid_code(mid, n - 1, s > 0.0f ? x / s : 0.0f);
    return s * points[*code];
  }
};

}  // namespace

cudaError_t launch_rms_scale_fit(const float* w, int64_t ld, int64_t rows, int64_t width, bool f16_scales,
                                 float* scales, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (width < 1) return cudaErrorInvalidValue;
  rms_scale_fit_kernel<<<unsigned((rows + kThreads - 1) / kThreads), kThreads, 0, stream>>>(w, ld, rows, width,
                                                                                           f16_scales, scales);
  return cudaGetLastError();
}

cudaError_t launch_gptq_gaussian_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                       const float* scales, const int32_t* group_of, const float* points,
                                       const float* mid, int n, uint8_t* codes, float* err, int64_t ld_err,
                                       cudaStream_t stream) {
  if (rows <= 0 || i2 <= i1) return cudaSuccess;
  if (i2 - i1 > kMaxBlockColumns || n < 2 || n > 256) return cudaErrorInvalidValue;
  const GaussianRounding grid{scales, points, mid, rows, n};
  gptq_block_kernel<int(kMaxBlockColumns / 32)><<<sweep_grid_blocks(rows), kSweepWarpsPerBlock * 32, 0, stream>>>(
      w, rows, cols, u, i1, int(i2 - i1), grid, group_of, codes, err, ld_err);
  return cudaGetLastError();
}

}  // namespace sq::cuda
