// Launchers for the GPTQ sweep with the HIGGS scalar Gaussian grid: the per-row RMS scale fit and one block of
// the column sweep (DeviceApi::rms_scale_fit and DeviceApi::gptq_gaussian_block give the contracts).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

cudaError_t launch_rms_scale_fit(const float* w, int64_t ld, int64_t rows, int64_t width, bool f16_scales,
                                 float* scales, cudaStream_t stream);

// i2 - i1 must be at most kMaxBlockColumns (gptq_affine.cuh); 2 <= n <= 256.
cudaError_t launch_gptq_gaussian_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                       const float* scales, const int32_t* group_of, const float* points,
                                       const float* mid, int n, uint8_t* codes, float* err, int64_t ld_err,
                                       cudaStream_t stream);

}  // namespace sq::cuda
