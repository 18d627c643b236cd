// The Hadamard-rotation transform of a method composition (HIGGS). The input dimension is zero-padded to a
// multiple of the block size h and every row of W is rotated, w' = R w with R = blockdiag(H_h diag(d_b) / sqrt(h))
// (hadamard.hpp); the Hessian follows, H' = R H R^T, so the layer objective is unchanged. The grid and solver
// then work on (W', H'), and the layer is stored in the rotated basis with its rotation, so decode ends with
// row <- R^T row and drops the padding.
//   solver none, Gaussian grid:  data-free HIGGS (higgs_quantize), any grid dimension
//   solver GPTQ, Gaussian grid:  HIGGS + GPTQ, the scalar (p = 1) grid inside the GPTQ sweep on (W', H')
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "quant/quantize_options.hpp"
#include "quant/quantized_layer.hpp"
#include "util/log.hpp"

namespace sq {

// opts validated and plan = resolve_method(opts) with plan.transform == Hadamard; W finite. H may be null
// when the solver needs none; when given it is only used for the objective of data-free HIGGS.
QuantizedLayer quantize_layer_hadamard(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                       const QuantizeOptions& opts, const MethodPlan& plan, const Logger& log);

}  // namespace sq
