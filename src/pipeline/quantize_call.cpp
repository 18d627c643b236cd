#include "pipeline/quantize_call.hpp"

#include "quant/layer_quantizer.hpp"

namespace sq {

QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log, const std::string& prefix) {
  QuantizeOptions q;
  q.method = opts.method;
  q.bits = opts.bits_for(prefix);
  q.group_size = opts.group_size;
  q.sym = opts.sym;
  q.act_order = opts.act_order;
  q.damp = opts.damp;
  q.exponent = opts.exponent;
  // The pipeline reports its own per-block statistics; the exact objective costs a GEMM per layer.
  q.compute_objective = false;
  return quantize_layer(be, W, rows, cols, H, q, log);
}

}  // namespace sq
