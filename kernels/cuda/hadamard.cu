// HIGGS's block Hadamard rotation: one thread block per (row, Hadamard block) holds the block's values in
// shared memory and runs the radix-2 stages in increasing span, a thread per butterfly
// (kernels/portable/fwht.hpp), which gives the CPU's bits (quant/hadamard.cpp). Sign and scale multiplies
// happen where the CPU does them: signs before the transform and the factor after (forward), sign * factor
// after (inverse).
#include "cuda/hadamard.cuh"
#include "portable/fwht.hpp"

namespace sq::cuda {
namespace {

constexpr int kMaxThreads = 512;
constexpr int kTile = 32;

__global__ void hadamard_rows_kernel(float* w, int64_t ld, int64_t blocks_per_row, int64_t block,
                                     const float* signs, bool inverse, float factor) {
  extern __shared__ float x[];
  const int64_t row = blockIdx.x / blocks_per_row, b0 = (blockIdx.x % blocks_per_row) * block;
  float* seg = w + row * ld + b0;
  for (int64_t j = threadIdx.x; j < block; j += blockDim.x)
    x[j] = signs && !inverse ? seg[j] * signs[b0 + j] : seg[j];
  __syncthreads();
  for (int64_t span = 1; span < block; span *= 2) {
    for (int64_t i = threadIdx.x; i < block / 2; i += blockDim.x) fwht_butterfly(x, span, i);
    __syncthreads();
  }
  for (int64_t j = threadIdx.x; j < block; j += blockDim.x) {
    if (signs && inverse) seg[j] = x[j] * (signs[b0 + j] * factor);
    else if (factor != 1.0f) seg[j] = x[j] * factor;
    else seg[j] = x[j];
  }
}

// Tile pairs (ti, tj) with tj >= ti; each thread swaps (or averages) one element above the diagonal with its
// mirror.
__global__ void mirror_pairs_kernel(float* a, int64_t n, bool average) {
  const int64_t ti = blockIdx.y, tj = blockIdx.x;
  if (tj < ti) return;
  const int64_t i = ti * kTile + threadIdx.y, j = tj * kTile + threadIdx.x;
  if (i >= n || j >= n || j <= i) return;
  const float upper = a[i * n + j], lower = a[j * n + i];
  if (average) {
    const float m = (upper + lower) / 2.0f;
    a[i * n + j] = m;
    a[j * n + i] = m;
  } else {
    a[i * n + j] = lower;
    a[j * n + i] = upper;
  }
}

cudaError_t launch_mirror(float* a, int64_t n, bool average, cudaStream_t stream) {
  if (n <= 1) return cudaSuccess;
  const unsigned tiles = unsigned((n + kTile - 1) / kTile);
  mirror_pairs_kernel<<<dim3(tiles, tiles), dim3(kTile, kTile), 0, stream>>>(a, n, average);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block,
                                        const float* signs, bool inverse, float factor, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  if (block < 1 || block > kMaxHadamardBlock || (block & (block - 1)) != 0 || cols % block != 0)
    return cudaErrorInvalidValue;
  const int64_t grid = rows * (cols / block);
  const int threads = int(block / 2 < kMaxThreads ? (block / 2 > 0 ? block / 2 : 1) : kMaxThreads);
  const size_t shared = size_t(block) * sizeof(float);
  if (shared > 48 * 1024) return cudaErrorInvalidValue;
  if (grid > int64_t(0x7fffffff)) return cudaErrorInvalidValue;
  hadamard_rows_kernel<<<unsigned(grid), threads, shared, stream>>>(w, ld, cols / block, block, signs, inverse,
                                                                    factor);
  return cudaGetLastError();
}

cudaError_t launch_transpose_square(float* a, int64_t n, cudaStream_t stream) {
  return launch_mirror(a, n, false, stream);
}

cudaError_t launch_symmetrize_average(float* a, int64_t n, cudaStream_t stream) {
  return launch_mirror(a, n, true, stream);
}

}  // namespace sq::cuda
