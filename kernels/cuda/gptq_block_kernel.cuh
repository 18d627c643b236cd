// Device code shared by the GPTQ sweep kernels (gptq_affine.cu, gptq_lut.cu): one block of the column sweep
// for any per-row grid. Included by .cu files only.
#pragma once
#include <cstdint>

namespace sq::cuda {

constexpr int kSweepWarpsPerBlock = 8;

// One warp per row; lane l holds block columns l, l + 32, ... in registers (kSlots of them). Column c's value
// is broadcast from its lane, rounded by `grid.round(group, row, x, &code)`, and its error pushed onto the
// later columns of the block, exactly as round_column_rows in solver_gptq.cpp (products rounded before the
// subtraction: no fused multiply-add, so near-ties round as on the CPU; the files that instantiate this are
// compiled with --fmad=false, so the grids' own value computations are not fused with `x - value` either).
template <int kSlots, typename Grid>
__global__ void gptq_block_kernel(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int width,
                                  Grid grid, const int32_t* group_of, uint8_t* codes, float* err, int64_t ld_err) {
  constexpr unsigned kFull = 0xffffffffu;
  const int lane = threadIdx.x % 32;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;  // a whole warp leaves together
  float* wr = w + r * cols + i1;
  float v[kSlots];
#pragma unroll
  for (int s = 0; s < kSlots; ++s) v[s] = lane + 32 * s < width ? wr[lane + 32 * s] : 0.0f;
  for (int c = 0; c < width; ++c) {
    const int owner = c % 32, slot = c / 32;
    float mine = 0.0f;
#pragma unroll
    for (int s = 0; s < kSlots; ++s)
      if (s == slot) mine = v[s];
    const float x = __shfl_sync(kFull, mine, owner);
    const int64_t col = i1 + c;
    int code = 0;
    const float value = grid.round(int64_t(group_of[col]), r, x, &code);
    const float e = (x - value) / u[col * cols + col];
    if (lane == owner) {
      codes[r * cols + col] = uint8_t(code);
      err[r * ld_err + c] = e;
    }
    const float* u_row = u + col * cols + i1;
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      const int j = lane + 32 * s;
      if (j == c) v[s] = value;
      else if (j > c && j < width) v[s] = v[s] - __fmul_rn(e, u_row[j]);
    }
  }
#pragma unroll
  for (int s = 0; s < kSlots; ++s)
    if (lane + 32 * s < width) wr[lane + 32 * s] = v[s];
}

inline unsigned sweep_grid_blocks(int64_t rows) {
  return unsigned((rows + kSweepWarpsPerBlock - 1) / kSweepWarpsPerBlock);
}

}  // namespace sq::cuda
