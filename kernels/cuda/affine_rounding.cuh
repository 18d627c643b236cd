// The affine grid's rounding on the device (grid_minmax_affine.cpp's AffineGroupGrid::quantize_column), shared by
// the GPTQ and QuantEase sweep kernels. Included by .cu files compiled with --fmad=false only, so that
// `scale * (q - zero)` is never fused with the caller's later subtraction.
#pragma once
#include <cstdint>

#include "portable/portable.hpp"

namespace sq::cuda {

// Row r's grid in group g: (scale, zero) = (scales, zeros)[g * rows + r], codes 0..maxq.
struct AffineRounding {
  const float* scales;
  const float* zeros;
  int64_t rows;
  float maxq;
  __device__ float round(int64_t g, int64_t r, float x, int* code) const {
    const float scale = scales[g * rows + r], zero = zeros[g * rows + r];
    // std::min/std::max's order (not fminf/fmaxf, which drop a NaN): a NaN target (an error feedback that
    // overflowed) stays NaN, as on the CPU and the host stand-in, instead of becoming code 0's finite value.
    const float q = min_first(max_first(rintf(x / scale) + zero, 0.0f), maxq);
    *code = q == q ? int(q) : 0;
    return scale * (q - zero);
  }
};

}  // namespace sq::cuda
