// Quantize one linear layer W [rows, cols] given its Hessian H [cols, cols] (or none: data-free).
// A method is a composition: transform (act-order) + grid + solver (RTN or GPTQ sweep); the preset
// named by opts.method picks the parts (see quantize_options.hpp).
#pragma once
#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "quant/grid.hpp"
#include "quant/quantize_options.hpp"
#include "quant/quantized_layer.hpp"
#include "util/log.hpp"

namespace sq {

// W and H are host fp32, row-major; H may be null (RTN only: GPTQ and the importance-weighted grids
// need it). H is used as given for the objective; the solver works on a damped copy.
// Errors: SQ_ERR_INVALID_ARGUMENT (options, shapes, a method that needs H without H),
// SQ_ERR_NUMERIC (NaN/Inf in W or H, a negative diagonal in H, H not PD even with damp 1.0),
// SQ_ERR_UNSUPPORTED (a grid this build lacks).
QuantizedLayer quantize_layer(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                              const QuantizeOptions& opts, const Logger& log);

// quantize_layer's work once the options are validated and resolved into `plan`, with no input transform
// (plan.transform is ignored): transforms call it on the transformed layer.
QuantizedLayer quantize_layer_planned(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                      const QuantizeOptions& opts, const MethodPlan& plan, const Logger& log);

// The grid a plan names, for `bits`/`sym`.
std::unique_ptr<Grid> make_grid(GridChoice choice, int bits, bool sym, ScaleStorage storage);

// tr((W - Q) H (W - Q)^T), or ||W - Q||_F^2 when h is null. Double accumulation.
double layer_objective(Backend& backend, const float* w, const float* q, int64_t rows, int64_t cols, const float* h);

}  // namespace sq
