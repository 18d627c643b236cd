#include "pipeline/quantize_call.hpp"

#include "pipeline/layer_codec.hpp"
#include "quant/layer_quantizer.hpp"

namespace sq {

namespace {

QuantizeOptions layer_options(const JobOptions& opts) {
  QuantizeOptions q;
  q.method = opts.method;
  q.bits = opts.bits;
  q.group_size = opts.group_size;
  q.sym = opts.sym;
  q.act_order = opts.act_order;
  q.damp = opts.damp;
  q.exponent = opts.exponent;
  // The pipeline reports its own per-block statistics; the exact objective costs a GEMM per layer.
  q.compute_objective = false;
  // CLAQ
  q.target_bits = opts.target_bits;
  q.outlier_threshold = opts.outlier_threshold;
  q.reserve_fraction = opts.reserve_fraction;
  q.reserve_fraction_rest = opts.reserve_fraction_rest;
  q.reserve_top_columns = opts.reserve_top_columns;
  return q;
}

}  // namespace

void check_layer_options(const JobOptions& opts) { validate(layer_options(opts)); }

QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log) {
  QuantizedLayer q = quantize_layer(be, W, rows, cols, H, layer_options(opts), log);
  if (q.grid == GridKind::ColumnLut || !q.outliers.empty()) {
    const EncodedLayer enc = encode_layer(q);
    double code_bits = q.bits;
    if (!q.column_bits.empty()) {
      code_bits = 0;
      for (uint8_t b : q.column_bits) code_bits += b;
      code_bits /= double(q.column_bits.size());
    }
    log.info(opts.method, " ", rows, " x ", cols, ": average code bits ", code_bits, ", ",
             enc.scheme.value("outliers", int64_t(0)), " full-precision outliers, effective bits ",
             enc.scheme.value("effective_bits", 0.0));
  }
  return q;
}

}  // namespace sq
