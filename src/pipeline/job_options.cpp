#include "pipeline/job_options.hpp"

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

}  // namespace

void JobOptions::set(const std::string& key, const std::string& value) {
  if (key == "method") {
    if (value != "rtn" && value != "gptq" && value != "leanquant" && value != "leanquant-affine" && value != "claq")
      throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'method' must be rtn, gptq, leanquant, leanquant-affine or claq; got '",
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
  } else if (key == "checkpoint_dir") {
    checkpoint_dir = value;
  } else if (key == "resume") {
    resume = parse_bool(key, value);
  } else if (key == "outlier_threshold") {  // CLAQ; ranges are checked with the method when the job starts
    outlier_threshold = parse_double(key, value);
  } else if (key == "reserve_fraction") {
    reserve_fraction = parse_double(key, value);
  } else if (key == "reserve_fraction_rest") {
    reserve_fraction_rest = parse_double(key, value);
  } else if (key == "reserve_top_columns") {
    reserve_top_columns = parse_double(key, value);
  } else {
    throw_error(SQ_ERR_INVALID_ARGUMENT, "unknown job option '", key,
                "' (known: method, bits, group_size, sym, act_order, damp, exponent, nsamples, seqlen, seed, "
                "activation_dtype, checkpoint_dir, resume, outlier_threshold, reserve_fraction, reserve_fraction_rest, "
                "reserve_top_columns)");
  }
}

std::string JobOptions::canonical() const {
  std::string text = cat("method=", method, ";bits=", bits, ";group_size=", group_size, ";sym=", sym, ";act_order=", act_order,
             ";damp=", damp, ";exponent=", exponent, ";nsamples=", nsamples, ";seqlen=", seqlen, ";seed=", seed,
             ";activation_dtype=", activation_dtype);
  if (method == "claq")
    text += cat(";target_bits=", target_bits, ";outlier_threshold=", outlier_threshold, ";reserve_fraction=",
                reserve_fraction, ";reserve_fraction_rest=", reserve_fraction_rest, ";reserve_top_columns=",
                reserve_top_columns);
  return text;
}

}  // namespace sq
