// Options of one layer quantization and the method presets they name. A preset fills in the parts of
// the composition (grid, solver, importance); explicit options override the preset's choice.
#pragma once
#include <cstdint>
#include <string>

#include "quant/claq_columns.hpp"
#include "quant/column_importance.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

enum class SolverKind { None /* RTN */, Gptq };
enum class GridChoice { Auto /* the preset's */, MinMaxAffine, LossAwareAffine, LutKMeans, ColumnKMeans /* CLAQ */ };

struct QuantizeOptions {
  std::string method = "gptq";  // "rtn", "gptq", "leanquant" (LUT grid), "leanquant-affine"
  int bits = 4;                 // 2, 3, 4 or 8
  int64_t group_size = -1;      // -1: per-channel; else columns per group (>= 1)
  bool sym = false;
  bool act_order = false;
  bool static_groups = false;
  double damp = 0.01;           // relative to mean(diag H); raised automatically if H is not PD
  double exponent = 4.0;        // LeanQuant's p in s_j = v_j^-p
  std::string grid = "auto";    // "auto", "minmax", "loss-aware-affine", "lut"
  std::string importance = "auto";  // "auto" (the preset's), "none", "cholesky", "inverse-diag"
  int64_t block_size = 128;     // GPTQ lazy-update block width
  bool compute_objective = true;  // tr((W-Q) H (W-Q)^T) costs one more rows x cols x cols GEMM
  // Affine scales as a checkpoint stores them (scale_storage.hpp): "fp16" (default, GPTQ checkpoints)
  // rounds each scale before weights are rounded with it; "fp32" keeps full precision.
  ScaleStorage scale_storage = ScaleStorage::F16;

  // CLAQ (method "claq"): per-column k-means grid in the GPTQ sweep, adaptive precision, outlier reservation.
  double target_bits = 0.0;             // average code bits in [2, 4] ("bits" 2.12); 0 = the integer `bits`
  double outlier_threshold = 13.0;      // |w| >= threshold * mean|W| is an outlier (adaptive precision ranking)
  double reserve_fraction = -1.0;       // per side, top-ranked columns; -1 = 0.014 for a fractional target, else 0
  double reserve_fraction_rest = -1.0;  // per side, other columns; -1 = 0.004 for a fractional target, else 0
  double reserve_top_columns = 0.10;    // fraction of columns (by outlier ratio) that get reserve_fraction
};

// What a validated set of options resolves to.
struct MethodPlan {
  SolverKind solver = SolverKind::Gptq;
  GridChoice grid = GridChoice::MinMaxAffine;
  ImportanceKind importance = ImportanceKind::None;
};

// Throws SQ_ERR_INVALID_ARGUMENT naming the option and the accepted values.
void validate(const QuantizeOptions& opts);
MethodPlan resolve_method(const QuantizeOptions& opts);

// CLAQ's per-column settings with the automatic defaults resolved (method "claq" only).
ClaqColumnOptions claq_column_options(const QuantizeOptions& opts);

// Set one option from its string form (the C ABI's key/value setter); unknown keys and malformed
// values are SQ_ERR_INVALID_ARGUMENT naming the key.
void set_option(QuantizeOptions& opts, const std::string& key, const std::string& value);

}  // namespace sq
