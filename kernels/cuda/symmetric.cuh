// Launchers for small symmetric-matrix fix-ups around cuBLAS/cuSOLVER calls (row-major, fp32).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// a[i][j] = a[j][i] for i > j: copy the upper triangle into the lower one.
cudaError_t launch_mirror_upper(float* a, int64_t n, int64_t lda, cudaStream_t stream);
// a[i][j] = 0 for i > j.
cudaError_t launch_zero_lower(float* a, int64_t n, int64_t lda, cudaStream_t stream);

}  // namespace sq::cuda
