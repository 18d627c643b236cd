#include "pipeline/quantize_call.hpp"

#include "quant/layer_quantizer.hpp"

namespace sq {

QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log) {
  QuantizeOptions q;
  q.method = opts.method;
  q.bits = opts.bits;
  q.group_size = opts.group_size;
  q.sym = opts.sym;
  q.act_order = opts.act_order;
  q.damp = opts.damp;
  q.exponent = opts.exponent;
  // QuantEase
  q.sweeps = opts.sweeps;
  q.init = opts.init;
  q.outlier_fraction = opts.outlier_fraction;
  q.outlier_structure = opts.outlier_structure;
  q.relax_sweeps = opts.relax_sweeps;
  // The pipeline reports its own per-block statistics; the exact objective costs a GEMM per layer.
  q.compute_objective = false;
  return quantize_layer(be, W, rows, cols, H, q, log);
}

}  // namespace sq
