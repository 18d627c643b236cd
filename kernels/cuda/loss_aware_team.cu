// LeanQuant's loss-aware affine search on the rows the warp kernel does not take (the CPU's sorted regime, rows
// of at least 32 values per level, and direct-sum rows over 256 values): one thread block per row runs the
// portable team program (kernels/portable/loss_aware_affine.hpp: in the sorted regime a bitonic sort and prefix
// sums; every candidate's loss on its own thread; the first least loss). The CPU tests run the same
// source with host teams against the CPU grid bit for bit. Compiled with --fmad=false (cmake/Cuda.cmake) so its
// arithmetic rounds as the host's does.
#include <algorithm>

#include "cuda/block_team.cuh"
#include "cuda/gptq_affine.cuh"
#include "cuda/scale_storage.cuh"
#include "portable/loss_aware_affine.hpp"

namespace sq::cuda {
namespace {

constexpr int kTeamThreads = 256;

struct DeviceStoredScale {
  bool f16;
  __device__ float operator()(float scale) const { return stored_scale(scale, f16); }
};

__global__ void __launch_bounds__(kTeamThreads)
    loss_aware_team_kernel(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                             int bits, bool sym, int shrink_steps, float min_factor, bool f16, float* scales,
                             float* zeros, char* workspace, int64_t row_bytes, int64_t row0) {
  const int64_t r = row0 + blockIdx.x;
  if (r >= rows) return;  // the whole block leaves together
  BlockTeam team;
  loss_aware::team_fit(team, w + r * ld, importance, width, bits, sym, shrink_steps, min_factor, DeviceStoredScale{f16},
                       workspace + int64_t(blockIdx.x) * row_bytes, scales + r, zeros + r);
}

}  // namespace

cudaError_t launch_loss_aware_team_fit(const float* w, int64_t ld, int64_t rows, int64_t width,
                                         const float* importance, int bits, bool sym, int shrink_steps,
                                         float min_factor, bool f16_scales, float* scales, float* zeros,
                                         void* workspace, int64_t workspace_rows, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (width < 1 || width > (int64_t(1) << 30) || bits < 1 || bits > 8 || workspace == nullptr || workspace_rows < 1)
    return cudaErrorInvalidValue;
  const int64_t row_bytes = loss_aware::team_fit_bytes(width, bits, shrink_steps, sym);
  for (int64_t r0 = 0; r0 < rows; r0 += workspace_rows) {
    const unsigned blocks = unsigned(std::min(rows - r0, workspace_rows));
    loss_aware_team_kernel<<<blocks, kTeamThreads, 0, stream>>>(w, ld, rows, width, importance, bits, sym,
                                                                 shrink_steps, min_factor, f16_scales, scales, zeros,
                                                                 static_cast<char*>(workspace), row_bytes, r0);
    const cudaError_t status = cudaGetLastError();
    if (status != cudaSuccess) return status;
  }
  return cudaSuccess;
}

}  // namespace sq::cuda
