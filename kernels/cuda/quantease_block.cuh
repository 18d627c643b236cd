// Launchers for QuantEase's coordinate-descent sweep on the device (DeviceApi::quantease_affine_block and
// DeviceApi::subtract give the contracts).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// b1 - b0 must be at most kMaxQuantEaseBlock.
constexpr int64_t kMaxQuantEaseBlock = 256;
cudaError_t launch_quantease_affine_block(float* q, float* g, int64_t rows, int64_t cols, const float* s, int64_t b0,
                                          int64_t b1, const float* scales, const float* zeros,
                                          const int32_t* group_of, int bits, bool relaxed, uint8_t* codes,
                                          float* delta, int64_t ld_delta, cudaStream_t stream);

// c[i] = a[i] - b[i] for i < n.
cudaError_t launch_subtract(const float* a, const float* b, float* c, int64_t n, cudaStream_t stream);

}  // namespace sq::cuda
