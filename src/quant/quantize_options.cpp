#include "quant/quantize_options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "quant/hadamard.hpp"
#include "quant/higgs_layer.hpp"
#include "util/error.hpp"

namespace sq {

namespace {

// HIGGS presets: Hadamard rotation + Gaussian grid, with no solver ("higgs") or the GPTQ sweep ("higgs-gptq").
bool is_higgs_method(const std::string& m) { return m == "higgs" || m == "higgs-gptq"; }

bool known_method(const std::string& m) {
  return m == "rtn" || m == "gptq" || m == "leanquant" || m == "leanquant-affine" || m == "quantease" ||
         is_higgs_method(m);
}

constexpr const char* kMethodList =
    "\"rtn\", \"gptq\", \"leanquant\", \"leanquant-affine\", \"quantease\", \"higgs\" or \"higgs-gptq\"";

GridChoice parse_grid(const std::string& g) {
  if (g == "auto") return GridChoice::Auto;
  if (g == "minmax") return GridChoice::MinMaxAffine;
  if (g == "loss-aware-affine") return GridChoice::LossAwareAffine;
  if (g == "lut") return GridChoice::LutKMeans;
  throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'grid' must be \"auto\", \"minmax\", \"loss-aware-affine\" or \"lut\"; got \"",
              g, "\"");
}

int64_t parse_int(const std::string& key, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "' must be an integer; got \"", value, "\"");
  return int64_t(v);
}

double parse_double(const std::string& key, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "' must be a finite number; got \"", value, "\"");
  return v;
}

bool parse_bool(const std::string& key, const std::string& value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "' must be true/false (or 1/0); got \"", value, "\"");
}

void validate_higgs(const QuantizeOptions& o) {
  if (!is_hadamard_size(o.hadamard_size) || o.hadamard_size < 2)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'hadamard_size' must be a power of two in [2, ", kMaxHadamardSize,
                "]; got ", o.hadamard_size);
  if (o.grid_dim < 0 || o.grid_dim > 2)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'grid_dim' must be 0 (the method's), 1 or 2; got ", o.grid_dim);
  if (o.method == "higgs-gptq" && o.grid_dim == 2)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method 'higgs-gptq' needs grid_dim 1: the GPTQ sweep rounds one column at a "
                "time, and a 2-D grid point spans two columns");
  if (o.grid != "auto")
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'grid' cannot be set for method '", o.method,
                "' (it always uses the Gaussian grid); got \"", o.grid, "\"");
  if (o.importance != "auto" && o.importance != "none")
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'importance' has no meaning for method '", o.method,
                "' (the Gaussian grid is fixed); got \"", o.importance, "\"");
  if (o.act_order || o.static_groups)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method '", o.method, "' does not support ",
                o.act_order ? "act_order" : "static_groups", ": it works in the Hadamard-rotated basis, where input "
                "columns are mixed");
  if (o.sym) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'sym' has no meaning for method '", o.method,
                         "' (the Gaussian grid is symmetric by construction)");
  const int p = o.grid_dim > 0 ? o.grid_dim : (o.method == "higgs" ? 2 : 1);
  (void)higgs_grid_for_bits(o.bits, p);
  const int64_t g = higgs_group_size(o);
  if (g < p || o.hadamard_size % g != 0 || g % p != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method '", o.method, "': group_size must be -1 (one scale per Hadamard block) or "
                "divide hadamard_size (", o.hadamard_size, ") and be a multiple of grid_dim (", p, "); got ", o.group_size);
}

// --- QuantEase options ---
// Value ranges (checked whatever the method, so a bad value is reported where it is set).
void validate_quantease_values(const QuantizeOptions& o) {
  if (o.sweeps < 1 || o.sweeps > 1000) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'sweeps' must be in [1, 1000]; got ", o.sweeps);
  if (o.init != "w" && o.init != "gptq")
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'init' must be \"w\" or \"gptq\"; got \"", o.init, "\"");
  if (!(o.outlier_fraction >= 0.0 && o.outlier_fraction < 0.5))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'outlier_fraction' must be in [0, 0.5); got ", o.outlier_fraction);
  if (o.outlier_structure != "unstructured" && o.outlier_structure != "columns")
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'outlier_structure' must be \"unstructured\" or \"columns\"; got \"",
                o.outlier_structure, "\"");
  if (o.relax_sweeps < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'relax_sweeps' must be >= 0; got ", o.relax_sweeps);
}

// Combinations with the shared options that QuantEase does not support.
void validate_quantease(const QuantizeOptions& o) {
  validate_quantease_values(o);
  if (o.method != "quantease") return;
  if (o.act_order)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'act_order' is not supported by method 'quantease' (its grid is fitted on the "
                "original column order and every sweep visits all columns)");
  if (o.grid != "auto" && o.grid != "minmax")
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'grid' must be \"auto\" or \"minmax\" for method 'quantease'; got \"", o.grid,
                "\"");
}

// Returns true when `key` is a QuantEase option (and sets it; a bad value leaves `o` unchanged).
bool set_quantease_option(QuantizeOptions& o, const std::string& key, const std::string& value) {
  QuantizeOptions next = o;
  if (key == "sweeps") next.sweeps = parse_int(key, value);
  else if (key == "init") next.init = value;
  else if (key == "outlier_fraction") next.outlier_fraction = parse_double(key, value);
  else if (key == "outlier_structure") next.outlier_structure = value;
  else if (key == "relax_sweeps") next.relax_sweeps = parse_int(key, value);
  else return false;
  validate_quantease_values(next);
  o = next;
  return true;
}
// --- end QuantEase options ---

}  // namespace

int64_t higgs_group_size(const QuantizeOptions& o) { return o.group_size == -1 ? o.hadamard_size : o.group_size; }

bool method_is_data_free(const QuantizeOptions& o) {
  const MethodPlan plan = resolve_method(o);
  return plan.solver == SolverKind::None && plan.importance == ImportanceKind::None && !o.act_order;
}

void validate(const QuantizeOptions& o) {
  if (!known_method(o.method))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'method' must be ", kMethodList, "; got \"", o.method, "\"");
  if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 8)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bits must be 2, 3, 4 or 8; got ", o.bits);
  if (o.group_size != -1 && o.group_size < 1)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "group_size must be -1 (per-channel) or >= 1; got ", o.group_size);
  if (o.static_groups && o.group_size == -1)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "static_groups needs a group_size (got group_size -1, per-channel)");
  if (!(o.damp >= 0.0 && o.damp <= 1.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "damp must be in [0, 1]; got ", o.damp);
  if (!(o.exponent > 0.0 && o.exponent <= 16.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "exponent must be in (0, 16]; got ", o.exponent);
  if (o.block_size < 1 || o.block_size > 4096)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "block_size must be in [1, 4096]; got ", o.block_size);
  parse_grid(o.grid);
  validate_quantease(o);
  if (o.importance != "auto") parse_importance_kind(o.importance);
  if (is_higgs_method(o.method)) validate_higgs(o);
  const MethodPlan plan = resolve_method(o);
  if (plan.grid == GridChoice::LutKMeans && o.sym)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "sym has no meaning for grid 'lut' (a lookup table has no zero point)");
}

MethodPlan resolve_method(const QuantizeOptions& o) {
  MethodPlan plan;
  const bool leanquant = o.method == "leanquant" || o.method == "leanquant-affine";
  plan.solver = o.method == "rtn" ? SolverKind::None : o.method == "quantease" ? SolverKind::QuantEase : SolverKind::Gptq;
  plan.grid = o.method == "leanquant"          ? GridChoice::LutKMeans
              : o.method == "leanquant-affine" ? GridChoice::LossAwareAffine
                                               : GridChoice::MinMaxAffine;
  const GridChoice explicit_grid = parse_grid(o.grid);
  if (explicit_grid != GridChoice::Auto) plan.grid = explicit_grid;
  const bool grid_uses_importance = plan.grid != GridChoice::MinMaxAffine;
  if (o.importance == "auto")
    plan.importance = leanquant && grid_uses_importance ? ImportanceKind::CholeskyDiagonal : ImportanceKind::None;
  else
    plan.importance = parse_importance_kind(o.importance);
  if (is_higgs_method(o.method)) {  // HIGGS: transform = rotation, grid = Gaussian, solver = none or GPTQ
    plan.transform = TransformKind::Hadamard;
    plan.grid = GridChoice::Gaussian;
    plan.solver = o.method == "higgs" ? SolverKind::None : SolverKind::Gptq;
    plan.importance = ImportanceKind::None;
    plan.grid_dim = o.grid_dim > 0 ? o.grid_dim : (o.method == "higgs" ? 2 : 1);
  }
  return plan;
}

void set_option(QuantizeOptions& o, const std::string& key, const std::string& value) {
  if (key == "method") {
    if (!known_method(value))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'method' must be ", kMethodList, "; got \"", value, "\"");
    o.method = value;
  } else if (key == "bits") {
    const int64_t b = parse_int(key, value);
    if (b != 2 && b != 3 && b != 4 && b != 8) throw_error(SQ_ERR_INVALID_ARGUMENT, "bits must be 2, 3, 4 or 8; got ", value);
    o.bits = int(b);
  } else if (key == "group_size") {
    o.group_size = parse_int(key, value);
  } else if (key == "sym") {
    o.sym = parse_bool(key, value);
  } else if (key == "act_order" || key == "desc_act") {
    o.act_order = parse_bool(key, value);
  } else if (key == "static_groups") {
    o.static_groups = parse_bool(key, value);
  } else if (key == "damp" || key == "damp_percent") {
    o.damp = parse_double(key, value);
  } else if (key == "exponent") {
    o.exponent = parse_double(key, value);
  } else if (key == "grid") {
    parse_grid(value);
    o.grid = value;
  } else if (key == "importance") {
    if (value != "auto") parse_importance_kind(value);
    o.importance = value;
  } else if (key == "block_size") {
    o.block_size = parse_int(key, value);
  } else if (key == "objective") {
    o.compute_objective = parse_bool(key, value);
  } else if (key == "scale_dtype") {
    if (value == "fp16") o.scale_storage = ScaleStorage::F16;
    else if (value == "fp32") o.scale_storage = ScaleStorage::F32;
    else throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'scale_dtype' must be \"fp16\" or \"fp32\"; got \"", value, "\"");
  } else if (key == "hadamard_size") {  // HIGGS options
    o.hadamard_size = parse_int(key, value);
  } else if (key == "grid_dim") {
    const int64_t p = parse_int(key, value);
    if (p < 0 || p > 2) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'grid_dim' must be 0, 1 or 2; got ", value);
    o.grid_dim = int(p);
  } else if (key == "random_signs") {
    o.random_signs = parse_bool(key, value);
  } else if (key == "rotation_seed") {
    const int64_t seed = parse_int(key, value);
    if (seed < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'rotation_seed' must be non-negative; got ", value);
    o.rotation_seed = uint64_t(seed);
  } else if (!set_quantease_option(o, key, value)) {
    throw_error(SQ_ERR_INVALID_ARGUMENT, "unknown layer option '", key,
                "'; known: method, bits, group_size, sym, act_order, static_groups, damp, exponent, grid, importance, "
                "block_size, objective, scale_dtype, hadamard_size, grid_dim, random_signs, rotation_seed, sweeps, init, "
                "outlier_fraction, outlier_structure, relax_sweeps");
  }
}

}  // namespace sq
