// SwiGLU's element-wise half (model/ops.hpp silu_mul on device pointers).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// gate <- silu(gate) * up over n values.
cudaError_t launch_silu_mul(float* gate, const float* up, int64_t n, cudaStream_t stream);

}  // namespace sq::cuda
