#include <algorithm>

#include "cuda/affine_rounding.cuh"
#include "cuda/quantease_block.cuh"

namespace sq::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kThreads = 256;

// One warp per row; lane l holds block columns l, l + 32, ... of Q and of G in registers (kSlots of each).
// Column c's Q and G values are broadcast from their lane, and the row is updated exactly as sweep_block in
// solver_quantease.cpp does it, column by column: the one-dimensional optimum q + g / s_cc, its grid value,
// the change q - value, and change * s[c, j] added to g for the later columns j of the block (products
// rounded before the addition: this file is compiled with --fmad=false, as the CPU build never fuses them).
template <int kSlots>
__global__ void quantease_affine_block_kernel(float* q, float* g, int64_t rows, int64_t cols, const float* s,
                                              int64_t b0, int width, AffineRounding grid, const int32_t* group_of,
                                              bool relaxed, uint8_t* codes, float* delta, int64_t ld_delta) {
  constexpr unsigned kFull = 0xffffffffu;
  const int lane = threadIdx.x % 32;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;  // a whole warp leaves together
  float* qr = q + r * cols + b0;
  float* gr = g + r * cols + b0;
  float qv[kSlots], gv[kSlots];
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int j = lane + 32 * k;
    qv[k] = j < width ? qr[j] : 0.0f;
    gv[k] = j < width ? gr[j] : 0.0f;
  }
  for (int c = 0; c < width; ++c) {
    const int owner = c % 32, slot = c / 32;
    float my_q = 0.0f, my_g = 0.0f;
#pragma unroll
    for (int k = 0; k < kSlots; ++k)
      if (k == slot) my_q = qv[k], my_g = gv[k];
    const float qc = __shfl_sync(kFull, my_q, owner);
    const float gc = __shfl_sync(kFull, my_g, owner);
    const int64_t col = b0 + c;
    const float* s_row = s + col * cols + b0;
    const float target = qc + gc / s_row[c];
    int code = 0;
    const float value = relaxed ? target : grid.round(int64_t(group_of[col]), r, target, &code);
    const float change = qc - value;
    if (lane == owner) {
      if (!relaxed) codes[r * cols + col] = uint8_t(code);
      delta[r * ld_delta + c] = change;
    }
#pragma unroll
    for (int k = 0; k < kSlots; ++k) {
      const int j = lane + 32 * k;
      if (j == c) qv[k] = value;
      else if (j > c && j < width && change != 0.0f) gv[k] = gv[k] + change * s_row[j];
    }
  }
#pragma unroll
  for (int k = 0; k < kSlots; ++k) {
    const int j = lane + 32 * k;
    if (j < width) qr[j] = qv[k], gr[j] = gv[k];
  }
}

__global__ void subtract_kernel(const float* a, const float* b, float* c, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) c[i] = a[i] - b[i];
}

}  // namespace

cudaError_t launch_quantease_affine_block(float* q, float* g, int64_t rows, int64_t cols, const float* s, int64_t b0,
                                          int64_t b1, const float* scales, const float* zeros,
                                          const int32_t* group_of, int bits, bool relaxed, uint8_t* codes,
                                          float* delta, int64_t ld_delta, cudaStream_t stream) {
  if (rows <= 0 || b1 <= b0) return cudaSuccess;
  if (b1 - b0 > kMaxQuantEaseBlock) return cudaErrorInvalidValue;
  const AffineRounding grid{scales, zeros, rows, float((1 << bits) - 1)};
  const unsigned blocks = unsigned((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  quantease_affine_block_kernel<int(kMaxQuantEaseBlock / 32)><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(
      q, g, rows, cols, s, b0, int(b1 - b0), grid, group_of, relaxed, codes, delta, ld_delta);
  return cudaGetLastError();
}

cudaError_t launch_subtract(const float* a, const float* b, float* c, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65536);  // grid-stride beyond
  subtract_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(a, b, c, n);
  return cudaGetLastError();
}

}  // namespace sq::cuda
