// How an affine grid stores its scales. GPTQ checkpoints keep scales in fp16, so by default every affine
// grid rounds each scale to fp16 *before* any weight is rounded with it: the values the GPTQ sweep feeds
// back as error are then exactly what a reader dequantizes from the checkpoint (scale16 * (q - z)).
// F32 keeps the full-precision scale (the published GPTQ algorithm, which converts only when packing).
// Zero points are computed from the unrounded scale in both modes, as the published code does, so the
// zeros do not depend on the storage choice.
#pragma once

namespace sq {

enum class ScaleStorage { F16, F32 };

// The scale a reader will see. F16: round to nearest even; a positive scale below the smallest fp16
// subnormal becomes that subnormal (never 0, so codes stay defined); a scale above the fp16 maximum
// (65504) throws SQ_ERR_NUMERIC (the row's range cannot be stored in an fp16 checkpoint).
float stored_scale(float scale, ScaleStorage storage);

}  // namespace sq
