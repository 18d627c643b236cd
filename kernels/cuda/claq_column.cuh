// Launchers for the GPTQ sweep with CLAQ's column k-means grid: one column's fit and one column's rounding
// with its error pushed onto the rest of the sweep block (DeviceApi::claq_column_fit and
// DeviceApi::claq_round_column give the contracts).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// One thread block runs kernels/portable/team_kmeans_fit.hpp on the column (levels <= 256).
cudaError_t launch_claq_column_fit(const float* w, int64_t rows, int64_t cols, int64_t column, int levels, int reserve,
                                   float* levels_out, int32_t* reserved_out, void* workspace, cudaStream_t stream);

// One warp per row.
cudaError_t launch_claq_round_column(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i,
                                     int64_t i2, const float* levels, int n_levels, const int32_t* reserved,
                                     int n_reserved, float* residuals, uint8_t* codes, float* err, int64_t ld_err,
                                     cudaStream_t stream);

}  // namespace sq::cuda
