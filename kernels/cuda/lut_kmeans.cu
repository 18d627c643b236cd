// The LeanQuant LUT fit on the device: one thread per row runs the portable exact k-means
// (kernels/portable/kmeans_exact_row.hpp), the code the CPU tests check against KMeans1dSolver. This file is
// compiled with --fmad=false (cmake/Cuda.cmake) so its double arithmetic rounds as the host's does.
#include <algorithm>
#include <cmath>

#include "cuda/gptq_lut.cuh"
#include "portable/kmeans_exact_row.hpp"

namespace sq::cuda {
namespace {

constexpr int kThreads = 128;

__global__ void lut_kmeans_fit_kernel(const float* w, int64_t ld, int64_t rows, int width, const float* importance,
                                      int levels, float* lut, void* workspace, int64_t workspace_rows, int64_t row0) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, r = row0 + t;
  if (t >= workspace_rows || r >= rows) return;
  float* out = lut + r * levels;
  const ExactKMeansScratch scratch = exact_kmeans_scratch(workspace, width, levels, workspace_rows, t);
  if (!exact_kmeans_row(w + r * ld, importance, width, levels, scratch, out))
    for (int c = 0; c < levels; ++c) out[c] = NAN;  // the host reports the row
}

}  // namespace

cudaError_t launch_lut_kmeans_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                                  int levels, float* lut, void* workspace, int64_t workspace_rows,
                                  cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (width < 1 || width > kMaxExactKMeansWidth || levels < 1 || levels > 256 || workspace_rows < 1)
    return cudaErrorInvalidValue;
  const unsigned blocks = unsigned((std::min(rows, workspace_rows) + kThreads - 1) / kThreads);
  for (int64_t r0 = 0; r0 < rows; r0 += workspace_rows) {
    lut_kmeans_fit_kernel<<<blocks, kThreads, 0, stream>>>(w, ld, rows, int(width), importance, levels, lut, workspace,
                                                           workspace_rows, r0);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) return status;
  }
  return cudaSuccess;
}

}  // namespace sq::cuda
