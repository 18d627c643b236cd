// The one place the pipeline calls into quant/: maps job options onto the quantizer's options.
#pragma once
#include <cstdint>
#include <string>

#include "backend/backend.hpp"
#include "pipeline/job_options.hpp"
#include "quant/quantized_layer.hpp"
#include "util/log.hpp"

namespace sq {

// W [rows, cols] fp32; H [cols, cols] the layer's input Hessian (unused by data-free methods).
// `prefix` names the layer ("model.layers.0.self_attn.q_proj"): its entry in opts.per_layer, if any,
// overrides the job-wide bits.
QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log, const std::string& prefix = "");

}  // namespace sq
