#include "pipeline/job_options.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "util/error.hpp"

namespace sq {
namespace {

int64_t parse_int(const std::string& key, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "': expected an integer, got '", value, "'");
  return v;
}

double parse_double(const std::string& key, const std::string& value) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || errno != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "': expected a number, got '", value, "'");
  return v;
}

bool parse_bool(const std::string& key, const std::string& value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw_error(SQ_ERR_INVALID_ARGUMENT, "option '", key, "': expected true/false (or 1/0), got '", value, "'");
}

// "3,4,8" -> {3, 4, 8}: distinct widths from {2, 3, 4, 8}, in increasing order; "" = no restriction.
std::vector<int> parse_plan_bits(const std::string& value) {
  std::vector<int> out;
  size_t start = 0;
  while (start < value.size()) {
    const size_t comma = value.find(',', start);
    const std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const int64_t b = parse_int("plan_bits", item);
    if (b != 2 && b != 3 && b != 4 && b != 8)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'plan_bits': each width must be 2, 3, 4 or 8; got '", item, "' in '",
                  value, "'");
    if (std::find(out.begin(), out.end(), int(b)) == out.end()) out.push_back(int(b));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// --- QuantEase options: true when `key` is one (and it was set) ---
bool set_quantease(JobOptions& o, const std::string& key, const std::string& value) {
  if (key == "sweeps") {
    const int64_t v = parse_int(key, value);
    if (v < 1 || v > 1000) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'sweeps' must be in [1, 1000]; got ", value);
    o.sweeps = v;
  } else if (key == "init") {
    if (value != "w" && value != "gptq")
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'init' must be w or gptq; got '", value, "'");
    o.init = value;
  } else if (key == "outlier_fraction") {
    const double v = parse_double(key, value);
    if (!(v >= 0.0 && v < 0.5))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'outlier_fraction' must be in [0, 0.5); got ", value);
    o.outlier_fraction = v;
  } else if (key == "outlier_structure") {
    if (value != "unstructured" && value != "columns")
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'outlier_structure' must be unstructured or columns; got '", value, "'");
    o.outlier_structure = value;
  } else if (key == "relax_sweeps") {
    const int64_t v = parse_int(key, value);
    if (v < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'relax_sweeps' must be >= 0; got ", value);
    o.relax_sweeps = v;
  } else {
    return false;
  }
  return true;
}
// --- end QuantEase options ---

}  // namespace

// HIGGS keys (and its two method names); false when `key` is none of them. Cross-option checks (bits against
// the grid, group size against the Hadamard size) happen when the quantizer validates the whole set.
bool JobOptions::set_higgs_option(const std::string& key, const std::string& value) {
  if (key == "method" && (value == "higgs" || value == "higgs-gptq")) {
    method = value;
  } else if (key == "hadamard_size") {
    const int64_t h = parse_int(key, value);
    if (h < 2 || h > (int64_t(1) << 16) || (h & (h - 1)) != 0)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'hadamard_size' must be a power of two in [2, 65536]; got ", value);
    hadamard_size = h;
  } else if (key == "grid_dim") {
    const int64_t p = parse_int(key, value);
    if (p < 0 || p > 2)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'grid_dim' must be 0 (the method's), 1 or 2; got ", value);
    grid_dim = int(p);
  } else if (key == "random_signs") {
    random_signs = parse_bool(key, value);
  } else if (key == "rotation_seed") {
    const int64_t s = parse_int(key, value);
    if (s < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'rotation_seed' must be non-negative; got ", value);
    rotation_seed = uint64_t(s);
  } else {
    return false;
  }
  return true;
}

void JobOptions::set(const std::string& key, const std::string& value) {
  if (set_higgs_option(key, value)) return;
  if (key == "method") {
    if (value != "rtn" && value != "gptq" && value != "leanquant" && value != "leanquant-affine" && value != "quantease" &&
        value != "claq")
      throw_error(SQ_ERR_INVALID_ARGUMENT,
                  "option 'method' must be rtn, gptq, leanquant, leanquant-affine, quantease, claq, higgs or higgs-gptq; got '",
                  value, "'");
    method = value;
  } else if (key == "bits") {
    // A fractional value is CLAQ's average target; the job checks the method when it starts (the method may
    // be set after this key).
    const double b = parse_double(key, value);
    if (b != std::floor(b)) {
      if (!(b > 2.0 && b < 4.0))
        throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'bits' must be 2, 3, 4 or 8, or a fractional claq target in (2, 4); got ",
                    value);
      target_bits = b;
      bits = 4;  // the widest column: adaptive precision gives the top-ranked columns 4 bits
    } else {
      if (b != 2 && b != 3 && b != 4 && b != 8)
        throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'bits' must be 2, 3, 4 or 8; got ", value);
      bits = int(b);
      target_bits = 0.0;
    }
  } else if (key == "group_size") {
    const int64_t g = parse_int(key, value);
    if (g != -1 && (g < 8 || g % 8 != 0))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'group_size' must be -1 (per-channel) or a positive multiple of 8; got ",
                  value);
    group_size = g;
  } else if (key == "sym") {
    sym = parse_bool(key, value);
  } else if (key == "act_order") {
    act_order = parse_bool(key, value);
  } else if (key == "static_groups") {
    static_groups = parse_bool(key, value);
  } else if (key == "damp") {
    damp = parse_double(key, value);
    if (!(damp >= 0.0 && damp < 10.0))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'damp' must be in [0, 10); got ", value);
  } else if (key == "exponent") {
    exponent = parse_double(key, value);
    if (!(exponent >= 0.0 && exponent <= 64.0))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'exponent' must be in [0, 64]; got ", value);
  } else if (key == "nsamples") {
    nsamples = parse_int(key, value);
    if (nsamples < 1) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'nsamples' must be at least 1; got ", value);
  } else if (key == "seqlen") {
    seqlen = parse_int(key, value);
    if (seqlen < 1) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'seqlen' must be at least 1; got ", value);
  } else if (key == "seed") {
    const int64_t s = parse_int(key, value);
    if (s < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'seed' must be non-negative; got ", value);
    seed = uint64_t(s);
  } else if (key == "activation_dtype") {
    if (value == "f32" || value == "fp32" || value == "float32") activation_dtype = SQ_DTYPE_F32;
    else if (value == "f16" || value == "fp16" || value == "float16") activation_dtype = SQ_DTYPE_F16;
    else if (value == "bf16" || value == "bfloat16") activation_dtype = SQ_DTYPE_BF16;
    else
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'activation_dtype' must be fp32, fp16 or bf16; got '", value, "'");
  } else if (key == "pass_checkpoints") {
    pass_checkpoints = parse_bool(key, value);
  } else if (key == "checkpoint_dir") {
    checkpoint_dir = value;
  } else if (key == "resume") {
    resume = parse_bool(key, value);
  } else if (key == "target_bpw") {
    target_bpw = parse_double(key, value);
    if (!(target_bpw == 0.0 || (target_bpw >= 1.0 && target_bpw <= 16.0)))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'target_bpw' must be 0 (off) or in [1, 16]; got ", value);
  } else if (key == "sensitivity_file") {
    sensitivity_file = value;
  } else if (key == "bit_plan_file") {
    bit_plan_file = value;
  } else if (key == "plan_bits") {
    plan_bits = parse_plan_bits(value);
  } else if (key == "outlier_threshold") {  // CLAQ; ranges are checked with the method when the job starts
    outlier_threshold = parse_double(key, value);
  } else if (key == "reserve_fraction") {
    reserve_fraction = parse_double(key, value);
  } else if (key == "reserve_fraction_rest") {
    reserve_fraction_rest = parse_double(key, value);
  } else if (key == "reserve_top_columns") {
    reserve_top_columns = parse_double(key, value);
  } else if (!set_quantease(*this, key, value)) {
    throw_error(SQ_ERR_INVALID_ARGUMENT, "unknown job option '", key,
                "' (known: method, bits, group_size, sym, act_order, static_groups, damp, exponent, nsamples, seqlen, seed, "
                "activation_dtype, pass_checkpoints, hadamard_size, grid_dim, random_signs, rotation_seed, checkpoint_dir, resume, "
                "target_bpw, sensitivity_file, bit_plan_file, plan_bits, sweeps, init, outlier_fraction, outlier_structure, "
                "relax_sweeps, outlier_threshold, reserve_fraction, reserve_fraction_rest, reserve_top_columns)");
  }
}

int JobOptions::bits_for(const std::string& prefix) const {
  const auto it = per_layer.find(prefix);
  return it == per_layer.end() ? bits : it->second.bits;
}

std::string JobOptions::canonical() const {
  // Uniform jobs keep the text (and so the fingerprint) they had before per-layer settings existed.
  std::string layers;
  if (!per_layer.empty()) layers = ";per_layer=";
  for (const auto& [prefix, o] : per_layer) layers += cat(prefix, ":", o.bits, ",");
  std::string text = cat("method=", method, ";bits=", bits, ";group_size=", group_size, ";sym=", sym, ";act_order=", act_order,
             ";damp=", damp, ";exponent=", exponent, ";nsamples=", nsamples, ";seqlen=", seqlen, ";seed=", seed,
             ";activation_dtype=", activation_dtype, ";hadamard_size=", hadamard_size, ";grid_dim=", grid_dim,
             ";random_signs=", random_signs, ";rotation_seed=", rotation_seed,
             // QuantEase
             ";sweeps=", sweeps, ";init=", init, ";outlier_fraction=", outlier_fraction,
             ";outlier_structure=", outlier_structure, ";relax_sweeps=", relax_sweeps, layers);
  if (static_groups) text += ";static_groups=1";  // only when set, so other jobs keep their fingerprints
  // CLAQ settings only for claq, so other methods keep their fingerprints.
  if (method == "claq")
    text += cat(";target_bits=", target_bits, ";outlier_threshold=", outlier_threshold, ";reserve_fraction=",
                reserve_fraction, ";reserve_fraction_rest=", reserve_fraction_rest, ";reserve_top_columns=",
                reserve_top_columns);
  return text;

}

}  // namespace sq
