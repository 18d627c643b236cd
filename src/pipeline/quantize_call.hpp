// The one place the pipeline calls into quant/: maps job options onto the quantizer's options.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "pipeline/job_options.hpp"
#include "quant/quantized_layer.hpp"
#include "util/log.hpp"

namespace sq {

// W [rows, cols] fp32; H [cols, cols] the layer's input Hessian (unused by data-free methods).
// Throws SQ_ERR_INVALID_ARGUMENT when the options cannot quantize any layer (e.g. fractional bits with a
// method other than claq); a job calls it before its first block so a bad option fails at once.
void check_layer_options(const JobOptions& opts);

QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log);

}  // namespace sq
