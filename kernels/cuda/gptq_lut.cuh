// Launchers for the GPTQ sweep with a LeanQuant lookup-table grid: the per-row k-means fit and one block of
// the column sweep (DeviceApi::lut_kmeans_fit and DeviceApi::gptq_lut_block give the contracts).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// workspace_rows rows per launch (lut_kmeans.cu): one thread per row up to kMaxExactKMeansWidth values, one
// thread block per row above.
cudaError_t launch_lut_kmeans_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                                  int levels, float* lut, void* workspace, int64_t workspace_rows,
                                  cudaStream_t stream);

// i2 - i1 must be at most kMaxBlockColumns (gptq_affine.cuh).
cudaError_t launch_gptq_lut_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                  const float* lut, const int32_t* group_of, int levels, uint8_t* codes, float* err,
                                  int64_t ld_err, cudaStream_t stream);

}  // namespace sq::cuda
