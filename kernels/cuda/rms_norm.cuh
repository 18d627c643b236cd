// RMSNorm launcher (model/ops.hpp rms_norm on device pointers).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// y[r] = weight * x[r] / sqrt(mean(x[r]^2) + eps) for `rows` rows of `dim` floats; y may equal x.
cudaError_t launch_rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* y,
                            cudaStream_t stream);

}  // namespace sq::cuda
