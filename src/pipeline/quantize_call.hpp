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

// False for data-free methods (RTN without act-order, HIGGS): the job then needs no calibration data and
// runs no forward pass.
bool needs_calibration(const JobOptions& opts);

// Check the job's options as the quantizer will see them (SQ_ERR_INVALID_ARGUMENT / SQ_ERR_UNSUPPORTED naming
// the option), so a bad combination fails before any work rather than at the first layer.
void validate_layer_options(const JobOptions& opts);

}  // namespace sq
