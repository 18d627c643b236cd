// Opening a quantized output directory (GPTQ, LUT or sq, as written by this library) as a WeightSource
// that dequantizes on read: each quantized layer P appears as an F32 tensor "P.weight" [rows, cols];
// every other tensor passes through. So eval and sq_model_open work on every output format.
#pragma once
#include <memory>
#include <string>

#include "io/weight_source.hpp"

namespace sq {

// nullptr when `dir` is not a quantized output (no config.json with a quantization_config this
// library reads); errors when it claims to be one but is malformed.
std::unique_ptr<WeightSource> open_quantized_weights(const std::string& dir);

}  // namespace sq
