// RoPE launcher (model/ops.hpp apply_rope on device pointers).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// HF rotate_half rotation in place of x [tokens, heads * head_dim]; cos/sin [tokens, head_dim / 2].
cudaError_t launch_rope(float* x, const float* cos, const float* sin, int64_t tokens, int64_t heads,
                        int64_t head_dim, cudaStream_t stream);

}  // namespace sq::cuda
