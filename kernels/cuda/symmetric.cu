#include "cuda/symmetric.cuh"

namespace sq::cuda {
namespace {

constexpr int kTile = 32;

// One thread per element of the strictly lower triangle (grid over the full square; upper threads exit).
__global__ void mirror_upper_kernel(float* a, int64_t n, int64_t lda) {
  const int64_t i = int64_t(blockIdx.y) * kTile + threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * kTile + threadIdx.x;
  if (i < n && j < i) a[i * lda + j] = a[j * lda + i];
}

__global__ void zero_lower_kernel(float* a, int64_t n, int64_t lda) {
  const int64_t i = int64_t(blockIdx.y) * kTile + threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * kTile + threadIdx.x;
  if (i < n && j < i) a[i * lda + j] = 0.0f;
}

dim3 grid_for(int64_t n) {
  const unsigned tiles = unsigned((n + kTile - 1) / kTile);
  return dim3(tiles, tiles);
}

}  // namespace

cudaError_t launch_mirror_upper(float* a, int64_t n, int64_t lda, cudaStream_t stream) {
  if (n <= 1) return cudaSuccess;
  mirror_upper_kernel<<<grid_for(n), dim3(kTile, kTile), 0, stream>>>(a, n, lda);
  return cudaGetLastError();
}

cudaError_t launch_zero_lower(float* a, int64_t n, int64_t lda, cudaStream_t stream) {
  if (n <= 1) return cudaSuccess;
  zero_lower_kernel<<<grid_for(n), dim3(kTile, kTile), 0, stream>>>(a, n, lda);
  return cudaGetLastError();
}

}  // namespace sq::cuda
