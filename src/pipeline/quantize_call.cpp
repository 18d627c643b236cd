#include "pipeline/quantize_call.hpp"

#include "quant/layer_quantizer.hpp"

namespace sq {

namespace {

// The layer `prefix` ("" = the job's uniform settings) gets its own bits when a per-layer plan names it.
QuantizeOptions layer_options(const JobOptions& opts, const std::string& prefix = "") {
  QuantizeOptions q;
  q.method = opts.method;
  q.bits = opts.bits_for(prefix);
  q.group_size = opts.group_size;
  q.sym = opts.sym;
  q.act_order = opts.act_order;
  q.static_groups = opts.static_groups;
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
  // HIGGS
  q.hadamard_size = opts.hadamard_size;
  q.grid_dim = opts.grid_dim;
  q.random_signs = opts.random_signs;
  q.rotation_seed = opts.rotation_seed;
  // CLAQ
  q.target_bits = opts.target_bits;
  q.outlier_threshold = opts.outlier_threshold;
  q.reserve_fraction = opts.reserve_fraction;
  q.reserve_fraction_rest = opts.reserve_fraction_rest;
  q.reserve_top_columns = opts.reserve_top_columns;
  return q;
}

}  // namespace

QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log, const std::string& prefix) {
  QuantizedLayer q = quantize_layer(be, W, rows, cols, H, layer_options(opts, prefix), log);
  if (q.grid == GridKind::ColumnLut || !q.outliers.empty()) {
    double code_bits = q.bits;
    if (!q.column_bits.empty()) {
      code_bits = 0;
      for (uint8_t b : q.column_bits) code_bits += b;
      code_bits /= double(q.column_bits.size());
    }
    log.info(opts.method, " ", rows, " x ", cols, ": average code bits ", code_bits, ", ", q.outliers.col.size(),
             " full-precision outliers");
  }
  return q;
}

bool needs_calibration(const JobOptions& opts) { return !method_is_data_free(layer_options(opts)); }

void validate_layer_options(const JobOptions& opts) { validate(layer_options(opts)); }

}  // namespace sq
