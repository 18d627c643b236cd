// CLAQ's column grid on the device. The fit runs the portable team program (kernels/portable/team_kmeans_fit.hpp,
// checked against ColumnKMeansGrid bit for bit by the CPU tests) with one thread block as the team and its
// scratch in global memory (a column's scratch is about 1 MB at 14336 rows, so it stays in L2). The rounding is
// round_column_rows with ColumnKMeansGrid::round, one warp per row. Compiled with --fmad=false
// (cmake/Cuda.cmake): the host never fuses a multiply into an add, so neither may these kernels.
#include <cuda_fp16.h>

#include "cuda/block_team.cuh"
#include "cuda/claq_column.cuh"
#include "portable/team_kmeans_fit.hpp"
#include "portable/nearest_level.hpp"

namespace sq::cuda {
namespace {

constexpr int kFitThreads = 512;
constexpr int kRoundWarps = 8;

__global__ void __launch_bounds__(kFitThreads)
    claq_column_fit_kernel(const float* w, int rows, int64_t cols, int64_t column, int levels, int reserve,
                           float* levels_out, int32_t* reserved_out, void* workspace) {
  BlockTeam team;
  team_kmeans_fit(team, w + column, cols, nullptr, rows, levels, reserve, TeamKMeansOptions{}, workspace, levels_out,
                  reserved_out);
}

__device__ int reserved_slot(const int32_t* reserved, int n, int32_t row) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (reserved[mid] < row) lo = mid + 1; else hi = mid;
  }
  return lo < n && reserved[lo] == row ? lo : -1;
}

__global__ void claq_round_column_kernel(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i,
                                         int64_t i2, const float* levels, int n_levels, const int32_t* reserved,
                                         int n_reserved, float* residuals, uint8_t* codes, float* err,
                                         int64_t ld_err) {
  const int lane = threadIdx.x % 32;
  const int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;
  float* wr = w + r * cols;
  const float x = wr[i];  // every lane rounds the same value alike; lane 0 writes
  const int code = nearest_level(levels, n_levels, x);
  float value = levels[code];
  const int slot = reserved_slot(reserved, n_reserved, int32_t(r));
  if (slot >= 0) {
    const float rest = __half2float(__float2half_rn(x - levels[code]));  // round to nearest even, as util/half.hpp
    value = levels[code] + rest;
    if (lane == 0) residuals[slot] = rest;
  }
  const float e = (x - value) / u[i * cols + i];
  __syncwarp();  // every lane has read w[r, i] before lane 0 overwrites it
  if (lane == 0) {
    codes[r * cols + i] = uint8_t(code);
    err[r * ld_err + (i - i1)] = e;
    wr[i] = value;
  }
  const float* u_row = u + i * cols;
  for (int64_t j = i + 1 + lane; j < i2; j += 32) wr[j] = wr[j] - __fmul_rn(e, u_row[j]);
}

}  // namespace

cudaError_t launch_claq_column_fit(const float* w, int64_t rows, int64_t cols, int64_t column, int levels, int reserve,
                                   float* levels_out, int32_t* reserved_out, void* workspace, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (rows > INT32_MAX / 2 || levels < 1 || levels > 256 || reserve < 0 || 2 * int64_t(reserve) >= rows)
    return cudaErrorInvalidValue;
  claq_column_fit_kernel<<<1, kFitThreads, 0, stream>>>(w, int(rows), cols, column, levels, reserve, levels_out,
                                                        reserved_out, workspace);
  return cudaGetLastError();
}

cudaError_t launch_claq_round_column(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i,
                                     int64_t i2, const float* levels, int n_levels, const int32_t* reserved,
                                     int n_reserved, float* residuals, uint8_t* codes, float* err, int64_t ld_err,
                                     cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (i < i1 || i >= i2 || n_levels < 1 || n_reserved < 0) return cudaErrorInvalidValue;
  const unsigned blocks = unsigned((rows + kRoundWarps - 1) / kRoundWarps);
  claq_round_column_kernel<<<blocks, kRoundWarps * 32, 0, stream>>>(w, rows, cols, u, i1, i, i2, levels, n_levels,
                                                                    reserved, n_reserved, residuals, codes, err,
                                                                    ld_err);
  return cudaGetLastError();
}

}  // namespace sq::cuda
