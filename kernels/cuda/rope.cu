#include "cuda/rope.cuh"

namespace sq::cuda {
namespace {

constexpr int kThreads = 256;

// One thread per rotated pair (x[i], x[i + half]) of one head at one position.
__global__ void rope_kernel(float* x, const float* cos, const float* sin, int64_t pairs, int64_t heads,
                            int64_t half) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= pairs) return;
  const int64_t i = idx % half, row = idx / half;  // row = t * heads + h
  const int64_t t = row / heads;
  float* v = x + row * 2 * half;
  const float c = cos[t * half + i], s = sin[t * half + i];
  const float x1 = v[i], x2 = v[i + half];
  v[i] = x1 * c - x2 * s;
  v[i + half] = x2 * c + x1 * s;
}

}  // namespace

cudaError_t launch_rope(float* x, const float* cos, const float* sin, int64_t tokens, int64_t heads,
                        int64_t head_dim, cudaStream_t stream) {
  const int64_t half = head_dim / 2, pairs = tokens * heads * half;
  if (pairs <= 0) return cudaSuccess;
  const int64_t blocks = (pairs + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  rope_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(x, cos, sin, pairs, heads, half);
  return cudaGetLastError();
}

}  // namespace sq::cuda
