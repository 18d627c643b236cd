#include "quant/scale_storage.hpp"

#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {

float stored_scale(float scale, ScaleStorage storage) {
  if (storage == ScaleStorage::F32) return scale;
  const float rounded = half_to_float(float_to_half(scale));
  if (!(rounded <= 65504.0f))
    throw_error(SQ_ERR_NUMERIC, "affine grid scale ", scale,
                " exceeds the fp16 maximum 65504 (weights too large for an fp16 checkpoint); use scale_dtype \"fp32\"");
  if (rounded == 0.0f && scale > 0.0f) return half_to_float(uint16_t(1));  // smallest fp16 subnormal, 2^-24
  return rounded;
}

}  // namespace sq
