#include "cuda/gptq_affine.cuh"
#include "cuda/gptq_block_kernel.cuh"
#include "cuda/gptq_lut.cuh"
#include "portable/nearest_level.hpp"

namespace sq::cuda {
namespace {

// The lookup table of row r in group g: the nearest of its ascending levels (grid_lut_kmeans.cpp's rounding).
struct LutRounding {
  const float* lut;
  int64_t rows;
  int levels;
  __device__ float round(int64_t g, int64_t r, float x, int* code) const {
    const float* row = lut + (g * rows + r) * levels;
    *code = nearest_level(row, levels, x);
    return row[*code];
  }
};

}  // namespace

cudaError_t launch_gptq_lut_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                  const float* lut, const int32_t* group_of, int levels, uint8_t* codes, float* err,
                                  int64_t ld_err, cudaStream_t stream) {
  if (rows <= 0 || i2 <= i1) return cudaSuccess;
  if (i2 - i1 > kMaxBlockColumns || levels < 1 || levels > 256) return cudaErrorInvalidValue;
  gptq_block_kernel<int(kMaxBlockColumns / 32)><<<sweep_grid_blocks(rows), kSweepWarpsPerBlock * 32, 0, stream>>>(
      w, rows, cols, u, i1, int(i2 - i1), LutRounding{lut, rows, levels}, group_of, codes, err, ld_err);
  return cudaGetLastError();
}

}  // namespace sq::cuda
