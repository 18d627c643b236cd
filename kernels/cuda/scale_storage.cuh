// Device code shared by the grid-fit kernels: a scale as a checkpoint stores it (quant/scale_storage.hpp's
// stored_scale). Included by .cu files only.
#pragma once
#include <cuda_fp16.h>

namespace sq::cuda {

// fp16 storage rounds to nearest even; a scale above the fp16 range becomes inf, for the host to report (the
// CPU throws there); a positive scale that would round to 0 becomes the smallest fp16 subnormal, 2^-24.
__device__ inline float stored_scale(float scale, bool f16) {
  if (!f16) return scale;
  const float s = __half2float(__float2half_rn(scale));
  return s == 0.0f && scale > 0.0f ? 5.9604644775390625e-8f : s;
}

}  // namespace sq::cuda
