// The affine grid's rounding on the device (grid_minmax_affine.cpp's AffineGroupGrid::quantize_column), shared by
// the GPTQ and QuantEase sweep kernels. Included by .cu files compiled with --fmad=false only, so that
// `scale * (q - zero)` is never fused with the caller's later subtraction.
#pragma once
#include <cstdint>

namespace sq::cuda {

// Row r's grid in group g: (scale, zero) = (scales, zeros)[g * rows + r], codes 0..maxq.
struct AffineRounding {
  const float* scales;
  const float* zeros;
  int64_t rows;
  float maxq;
  __device__ float round(int64_t g, int64_t r, float x, int* code) const {
    const float scale = scales[g * rows + r], zero = zeros[g * rows + r];
    const float q = fminf(fmaxf(rintf(x / scale) + zero, 0.0f), maxq);
    *code = int(q);
    return scale * (q - zero);
  }
};

}  // namespace sq::cuda
