#include <cmath>

#include "cuda/block_reduce.cuh"
#include "cuda/causal_softmax.cuh"

namespace sq::cuda {
namespace {

constexpr int kThreads = 256;

// One thread block per score row. The arithmetic follows ops::causal_attention: max, exp(s - max), sum,
// divide, in fp32.
__global__ void causal_softmax_kernel(float* scores, int64_t tokens, int64_t window) {
  const int64_t row_index = blockIdx.x;  // b * tokens + i
  const int64_t i = row_index % tokens;
  float* row = scores + row_index * tokens;
  const int64_t lo = window > 0 ? (i - window + 1 > 0 ? i - window + 1 : 0) : 0, hi = i + 1;
  float mx = -INFINITY;
  for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) mx = fmaxf(mx, row[j]);
  mx = block_reduce(mx, Max());
  float sum = 0.0f;
  for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) {
    const float e = expf(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  sum = block_reduce(sum, Add());
  for (int64_t j = threadIdx.x; j < tokens; j += blockDim.x) row[j] = (j >= lo && j < hi) ? row[j] / sum : 0.0f;
}

}  // namespace

cudaError_t launch_causal_softmax(float* scores, int64_t tokens, int64_t batch, int64_t window, cudaStream_t stream) {
  const int64_t rows = tokens * batch;
  if (rows <= 0) return cudaSuccess;
  if (rows > 0x7fffffff) return cudaErrorInvalidValue;
  causal_softmax_kernel<<<unsigned(rows), kThreads, 0, stream>>>(scores, tokens, window);
  return cudaGetLastError();
}

}  // namespace sq::cuda
