#include <algorithm>

#include "cuda/swiglu.cuh"

namespace sq::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void silu_mul_kernel(float* gate, const float* up, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

}  // namespace

cudaError_t launch_silu_mul(float* gate, const float* up, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65536);  // grid-stride beyond
  silu_mul_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(gate, up, n);
  return cudaGetLastError();
}

}  // namespace sq::cuda
