// Launchers for the GPTQ sweep with an affine grid: the min-max group fit and one block of the column sweep
// (DeviceApi::minmax_affine_fit and DeviceApi::gptq_affine_block give the contracts).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

cudaError_t launch_minmax_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, int bits, bool sym,
                                     bool f16_scales, float* scales, float* zeros, cudaStream_t stream);

// i2 - i1 must be at most kMaxBlockColumns.
constexpr int64_t kMaxBlockColumns = 256;
cudaError_t launch_gptq_affine_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                     const float* scales, const float* zeros, const int32_t* group_of, int bits,
                                     uint8_t* codes, float* err, int64_t ld_err, cudaStream_t stream);

}  // namespace sq::cuda

namespace sq::cuda {

// The LeanQuant loss-aware affine fit (DeviceApi::loss_aware_affine_fit); width <= kMaxLossAwareWidth.
constexpr int64_t kMaxLossAwareWidth = 256;
cudaError_t launch_loss_aware_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width,
                                         const float* importance, int bits, bool sym, int shrink_steps,
                                         float min_factor, bool f16_scales, float* scales, float* zeros,
                                         cudaStream_t stream);

// The same search for the rows loss_aware::fitted_by_team picks (the CPU's sorted regime, and direct-sum rows
// wider than the warp kernel's), any width: one thread block per row runs the portable team program over a
// slice of `workspace` (DeviceApi::loss_aware_affine_fit).
cudaError_t launch_loss_aware_team_fit(const float* w, int64_t ld, int64_t rows, int64_t width,
                                         const float* importance, int bits, bool sym, int shrink_steps,
                                         float min_factor, bool f16_scales, float* scales, float* zeros,
                                         void* workspace, int64_t workspace_rows, cudaStream_t stream);

}  // namespace sq::cuda
