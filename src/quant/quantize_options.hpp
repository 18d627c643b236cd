// Options of one layer quantization and the method presets they name. A preset fills in the parts of
// the composition (grid, solver, importance); explicit options override the preset's choice.
#pragma once
#include <cstdint>
#include <string>

#include "quant/column_importance.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

enum class SolverKind { None /* RTN */, Gptq, QuantEase /* coordinate descent, solver_quantease.hpp */ };
enum class GridChoice { Auto /* the preset's */, MinMaxAffine, LossAwareAffine, LutKMeans, Gaussian /* HIGGS */ };
// What is applied to the layer's input dimension before the grid and solver see it.
enum class TransformKind { None, Hadamard /* HIGGS: block Hadamard rotation of W's rows and of H */ };

struct QuantizeOptions {
  std::string method = "gptq";  // "rtn", "gptq", "leanquant" (LUT grid), "leanquant-affine", "higgs", "higgs-gptq"
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

  // HIGGS ("higgs": data-free; "higgs-gptq": the p = 1 Gaussian grid in the GPTQ sweep on the rotated layer).
  // bits per weight name the grid through higgs_grid_for_bits (higgs_layer.hpp); group_size -1 = one scale
  // per Hadamard block, else it must divide hadamard_size.
  int64_t hadamard_size = 512;  // rotation block h, a power of two >= 2
  int grid_dim = 0;             // Gaussian grid dimension p: 0 = the preset's (higgs 2, higgs-gptq 1)
  bool random_signs = false;    // randomized Hadamard: +-1 signs from rotation_seed, stored with the layer
  uint64_t rotation_seed = 0;
  // --- QuantEase (method "quantease", solver_quantease.hpp) ---
  int64_t sweeps = 30;            // coordinate-descent passes over all columns
  std::string init = "w";         // "w": start from W; "gptq": start from the GPTQ result
  double outlier_fraction = 0.0;  // 0 = no outliers; else the fraction of weights (or columns) kept in fp32
  std::string outlier_structure = "unstructured";  // "unstructured" (top-k entries) or "columns" (whole columns)
  int64_t relax_sweeps = 25;      // sweeps 1, 4, 7, ... <= relax_sweeps skip rounding (0 = never)
};

// What a validated set of options resolves to.
struct MethodPlan {
  SolverKind solver = SolverKind::Gptq;
  GridChoice grid = GridChoice::MinMaxAffine;
  ImportanceKind importance = ImportanceKind::None;
  TransformKind transform = TransformKind::None;
  int grid_dim = 1;  // Gaussian grids: the dimension p the preset resolved to
};

// Throws SQ_ERR_INVALID_ARGUMENT naming the option and the accepted values.
void validate(const QuantizeOptions& opts);
MethodPlan resolve_method(const QuantizeOptions& opts);

// True when the method needs no layer Hessian, so no calibration data and no forward pass: RTN without
// act-order or importance weights, and data-free HIGGS.
bool method_is_data_free(const QuantizeOptions& opts);

// The Gaussian grid side of the HIGGS presets: the HIGGS group size (-1 resolved to hadamard_size).
int64_t higgs_group_size(const QuantizeOptions& opts);

// Set one option from its string form (the C ABI's key/value setter); unknown keys and malformed
// values are SQ_ERR_INVALID_ARGUMENT naming the key.
void set_option(QuantizeOptions& opts, const std::string& key, const std::string& value);

}  // namespace sq
