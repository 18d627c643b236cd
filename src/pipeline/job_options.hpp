// Options of a quantization job, set by key/value strings (the C ABI's sq_job_set_option) and validated
// with messages that name the key, the accepted values and the value given.
#pragma once
#include <cstdint>
#include <string>

#include "util/dtype.hpp"

namespace sq {

struct JobOptions {
  std::string method = "gptq";    // rtn | gptq | leanquant | leanquant-affine (or any preset the quantizer knows)
  int bits = 4;                   // 2, 3, 4 or 8 (claq: also a fractional target, see target_bits)
  int64_t group_size = 128;       // -1 = per-channel
  bool sym = false;
  bool act_order = false;
  double damp = 0.01;             // relative damping of the Hessian diagonal
  double exponent = 4.0;          // LeanQuant's importance exponent p
  int64_t nsamples = 128;
  int64_t seqlen = 2048;
  uint64_t seed = 0;
  DType activation_dtype = SQ_DTYPE_F32;  // how calibration activations are held between blocks
  std::string checkpoint_dir;     // "" = a private temporary directory, removed with the job
  bool resume = false;            // continue from checkpoint_dir when its fingerprint matches

  // CLAQ (method "claq"; QuantizeOptions has the meaning of each).
  double target_bits = 0.0;             // set by a fractional "bits" (2.12): average code bits
  double outlier_threshold = 13.0;
  double reserve_fraction = -1.0;       // -1 = automatic
  double reserve_fraction_rest = -1.0;  // -1 = automatic
  double reserve_top_columns = 0.10;

  // Throws SQ_ERR_INVALID_ARGUMENT naming the key (unknown key, bad value).
  void set(const std::string& key, const std::string& value);
  // A canonical text of every option that changes the output (for the resume fingerprint).
  std::string canonical() const;
};

}  // namespace sq
