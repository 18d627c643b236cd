#include <algorithm>

#include "cuda/row_bias.cuh"

namespace sq::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void add_row_bias_kernel(float* y, const float* bias, int64_t n, int64_t cols) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] += bias[i % cols];
}

}  // namespace

cudaError_t launch_add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
  const int64_t n = rows * cols;
  if (n <= 0) return cudaSuccess;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65536);
  add_row_bias_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(y, bias, n, cols);
  return cudaGetLastError();
}

}  // namespace sq::cuda
