// Bias add of the linear layers that have one (Qwen2 q/k/v, o_proj where configured).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// y[r][j] += bias[j] for `rows` rows of `cols`.
cudaError_t launch_add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace sq::cuda
