#include "quant/quantize_options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "util/error.hpp"

namespace sq {

namespace {

bool known_method(const std::string& m) {
  return m == "rtn" || m == "gptq" || m == "leanquant" || m == "leanquant-affine" || m == "claq";
}

GridChoice parse_grid(const std::string& g) {
  if (g == "auto") return GridChoice::Auto;
  if (g == "minmax") return GridChoice::MinMaxAffine;
  if (g == "loss-aware-affine") return GridChoice::LossAwareAffine;
  if (g == "lut") return GridChoice::LutKMeans;
  if (g == "column-kmeans") return GridChoice::ColumnKMeans;
  throw_error(SQ_ERR_INVALID_ARGUMENT,
              "option 'grid' must be \"auto\", \"minmax\", \"loss-aware-affine\", \"lut\" or \"column-kmeans\"; got \"", g,
              "\"");
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

bool fractional(double bits) { return bits != std::floor(bits); }

// CLAQ's options: meaningful for method "claq" only, and its grid is fixed (one table per input column).
void validate_claq(const QuantizeOptions& o, const MethodPlan& plan) {
  const bool claq = o.method == "claq";
  if (!claq) {
    if (o.target_bits != 0.0)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "bits ", o.target_bits, " is fractional: only method 'claq' (adaptive ",
                  "precision) takes a fractional bits target; method '", o.method, "' needs bits 2, 3, 4 or 8");
    const QuantizeOptions defaults;
    const std::pair<const char*, bool> claq_only[] = {
        {"outlier_threshold", o.outlier_threshold != defaults.outlier_threshold},
        {"reserve_fraction", o.reserve_fraction != defaults.reserve_fraction},
        {"reserve_fraction_rest", o.reserve_fraction_rest != defaults.reserve_fraction_rest},
        {"reserve_top_columns", o.reserve_top_columns != defaults.reserve_top_columns}};
    for (const auto& [key, set] : claq_only)
      if (set) throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "' applies to method 'claq' only (method is '", o.method, "')");
    if (plan.grid == GridChoice::ColumnKMeans)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "grid 'column-kmeans' is CLAQ's: use method 'claq' (method is '", o.method, "')");
    return;
  }
  if (plan.grid != GridChoice::ColumnKMeans)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method 'claq' uses grid 'column-kmeans'; got grid '", o.grid, "'");
  if (o.target_bits == 0.0 && o.bits != 2 && o.bits != 3 && o.bits != 4)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method 'claq' needs bits 2, 3, 4 or a fractional target in [2, 4]; got ", o.bits);
  if (o.target_bits != 0.0 && !(o.target_bits >= 2.0 && o.target_bits <= 4.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method 'claq': bits target must be in [2, 4]; got ", o.target_bits);
  if (o.group_size != -1)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method 'claq' fits one level table per input column across all rows, so it ",
                "takes no groups: set group_size -1 (got ", o.group_size, ")");
  if (o.sym) throw_error(SQ_ERR_INVALID_ARGUMENT, "sym has no meaning for method 'claq' (a lookup table has no zero point)");
  if (o.static_groups) throw_error(SQ_ERR_INVALID_ARGUMENT, "static_groups has no meaning for method 'claq' (no groups)");
  if (!(o.outlier_threshold > 0.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'outlier_threshold' must be positive; got ", o.outlier_threshold);
  const std::pair<const char*, double> fractions[] = {{"reserve_fraction", o.reserve_fraction},
                                                      {"reserve_fraction_rest", o.reserve_fraction_rest}};
  for (const auto& [key, f] : fractions)
    if (f != -1.0 && !(f >= 0.0 && f < 0.5))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "' must be -1 (auto) or in [0, 0.5); got ", f);
  if (!(o.reserve_top_columns >= 0.0 && o.reserve_top_columns <= 1.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'reserve_top_columns' must be in [0, 1]; got ", o.reserve_top_columns);
}

}  // namespace

ClaqColumnOptions claq_column_options(const QuantizeOptions& o) {
  ClaqColumnOptions c;
  c.target_bits = o.target_bits != 0.0 ? o.target_bits : double(o.bits);
  c.outlier_threshold = o.outlier_threshold;
  // Reservation is part of CLAQ's fractional-bit setting (AP + OR); integer bits are column k-means alone.
  const bool auto_on = fractional(c.target_bits);
  c.reserve_fraction_top = o.reserve_fraction >= 0.0 ? o.reserve_fraction : auto_on ? 0.014 : 0.0;
  c.reserve_fraction_rest = o.reserve_fraction_rest >= 0.0 ? o.reserve_fraction_rest : auto_on ? 0.004 : 0.0;
  c.reserve_top_columns = o.reserve_top_columns;
  return c;
}

void validate(const QuantizeOptions& o) {
  if (!known_method(o.method))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'method' must be \"rtn\", \"gptq\", \"leanquant\", \"leanquant-affine\" or \"claq\"; got \"",
                o.method, "\"");
  if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 8 && o.method != "claq")
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
  if (o.importance != "auto") parse_importance_kind(o.importance);
  const MethodPlan plan = resolve_method(o);
  validate_claq(o, plan);
  if (plan.grid == GridChoice::LutKMeans && o.sym)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "sym has no meaning for grid 'lut' (a lookup table has no zero point)");
}

MethodPlan resolve_method(const QuantizeOptions& o) {
  MethodPlan plan;
  const bool leanquant = o.method == "leanquant" || o.method == "leanquant-affine";
  plan.solver = o.method == "rtn" ? SolverKind::None : SolverKind::Gptq;
  plan.grid = o.method == "leanquant"          ? GridChoice::LutKMeans
              : o.method == "leanquant-affine" ? GridChoice::LossAwareAffine
              : o.method == "claq"             ? GridChoice::ColumnKMeans
                                               : GridChoice::MinMaxAffine;
  const GridChoice explicit_grid = parse_grid(o.grid);
  if (explicit_grid != GridChoice::Auto) plan.grid = explicit_grid;
  const bool grid_uses_importance = plan.grid != GridChoice::MinMaxAffine;
  if (o.importance == "auto")
    plan.importance = leanquant && grid_uses_importance ? ImportanceKind::CholeskyDiagonal : ImportanceKind::None;
  else
    plan.importance = parse_importance_kind(o.importance);
  return plan;
}

void set_option(QuantizeOptions& o, const std::string& key, const std::string& value) {
  if (key == "method") {
    if (!known_method(value))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'method' must be \"rtn\", \"gptq\", \"leanquant\", \"leanquant-affine\" or \"claq\"; got \"",
                  value, "\"");
    o.method = value;
  } else if (key == "bits") {
    // Integer bits for every method; a fractional value (2.12) is CLAQ's average target (validate() checks
    // the method, which may be set after this key).
    const double b = parse_double(key, value);
    if (fractional(b)) {
      if (!(b > 2.0 && b < 4.0))
        throw_error(SQ_ERR_INVALID_ARGUMENT, "bits must be 2, 3, 4 or 8, or a fractional CLAQ target in (2, 4); got ", value);
      o.target_bits = b;
      o.bits = 4;  // the widest column: adaptive precision gives the top-ranked columns 4 bits
    } else {
      if (b != 2 && b != 3 && b != 4 && b != 8) throw_error(SQ_ERR_INVALID_ARGUMENT, "bits must be 2, 3, 4 or 8; got ", value);
      o.bits = int(b);
      o.target_bits = 0.0;
    }
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
  } else if (key == "target_bits") {  // CLAQ
    o.target_bits = parse_double(key, value);
  } else if (key == "outlier_threshold") {
    o.outlier_threshold = parse_double(key, value);
  } else if (key == "reserve_fraction") {
    o.reserve_fraction = parse_double(key, value);
  } else if (key == "reserve_fraction_rest") {
    o.reserve_fraction_rest = parse_double(key, value);
  } else if (key == "reserve_top_columns") {
    o.reserve_top_columns = parse_double(key, value);
  } else {
    throw_error(SQ_ERR_INVALID_ARGUMENT, "unknown layer option '", key,
                "'; known: method, bits, group_size, sym, act_order, static_groups, damp, exponent, grid, importance, "
                "block_size, objective, scale_dtype, target_bits, outlier_threshold, reserve_fraction, "
                "reserve_fraction_rest, reserve_top_columns");
  }
}

}  // namespace sq
