#include "cuda/block_reduce.cuh"
#include "cuda/rms_norm.cuh"

namespace sq::cuda {
namespace {

constexpr int kThreads = 256;

// One thread block per row. The sum of squares is accumulated in double and the variance rounded to fp32
// before rsqrt, as the CPU reference (and transformers) do.
__global__ void rms_norm_kernel(const float* x, const float* weight, int64_t dim, float eps, float* y) {
  const float* xr = x + int64_t(blockIdx.x) * dim;
  float* yr = y + int64_t(blockIdx.x) * dim;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum_sq += double(xr[i]) * double(xr[i]);
  sum_sq = block_reduce(sum_sq, Add());  // synchronizes: every read of xr is done before yr (maybe xr) is written
  const float variance = float(sum_sq / double(dim));
  const float inv_rms = 1.0f / sqrtf(variance + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = weight[i] * (xr[i] * inv_rms);
}

}  // namespace

cudaError_t launch_rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* y,
                            cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return cudaSuccess;
  if (rows > 0x7fffffff) return cudaErrorInvalidValue;
  rms_norm_kernel<<<unsigned(rows), kThreads, 0, stream>>>(x, weight, dim, eps, y);
  return cudaGetLastError();
}

}  // namespace sq::cuda
