// Options of a quantization job, set by key/value strings (the C ABI's sq_job_set_option) and validated
// with messages that name the key, the accepted values and the value given.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/dtype.hpp"

namespace sq {

// One layer's own settings, overriding the job-wide ones (dynamic bit allocation, or an explicit plan).
struct LayerOverride {
  int bits = 4;
  // Informational (not part of the fingerprint): what the allocation assumed for this layer.
  int64_t numel = 0;
  double bits_per_weight = 0.0;  // bits plus scale / zero overhead (affine_bits_per_weight)
  double rel_mse = -1.0;         // measured relative MSE of RTN at these bits (-1 = not measured)
  double alpha = -1.0;           // sensitivity used by the allocation (-1 = none)
};

struct JobOptions {
  std::string method = "gptq";    // rtn | gptq | leanquant | leanquant-affine (or any preset the quantizer knows)
  int bits = 4;                   // 2, 3, 4 or 8 (claq: also a fractional target, see target_bits)
  int64_t group_size = 128;       // -1 = per-channel
  bool sym = false;
  bool act_order = false;
  bool static_groups = false;     // groups fitted before the sweep on the original column order (GPTQ's)
  double damp = 0.01;             // relative damping of the Hessian diagonal
  double exponent = 4.0;          // LeanQuant's importance exponent p
  int64_t nsamples = 128;
  int64_t seqlen = 2048;
  uint64_t seed = 0;
  DType activation_dtype = SQ_DTYPE_F32;  // how calibration activations are held between blocks
  // Calibration passes start from checkpoints within a block (BlockPasses). Speed only: not in the fingerprint.
  bool pass_checkpoints = true;
  // HIGGS (methods higgs, higgs-gptq): Hadamard block size, Gaussian grid dimension (0 = the method's:
  // higgs 2, higgs-gptq 1), randomized Hadamard signs and their seed.
  int64_t hadamard_size = 512;
  int grid_dim = 0;
  bool random_signs = false;
  uint64_t rotation_seed = 0;
  std::string checkpoint_dir;     // "" = a private temporary directory, removed with the job
  bool resume = false;            // continue from checkpoint_dir when its fingerprint matches
  // Dynamic bit allocation: with target_bpw > 0 and a sensitivity file (calibrate-sensitivity), each linear
  // layer's bits are chosen at the job's start to minimize sum alpha_l * t_l within target_bpw on average.
  double target_bpw = 0.0;
  std::string sensitivity_file;
  // An explicit plan instead: JSON {"layer prefix": bits, ...} (or {"per_layer": {prefix: bits or {"bits": b}}}).
  std::string bit_plan_file;
  // The bit widths a plan may use (empty = every width the method offers): e.g. {3, 4, 8} keeps RTN away from
  // 2 bits, where the linear error model under-predicts the damage (bench/RESULTS.md).
  std::vector<int> plan_bits;
  // Resolved per-layer settings by layer prefix ("model.layers.0.self_attn.q_proj"); empty = uniform bits.
  // Filled by the job at its start; part of canonical().
  std::map<std::string, LayerOverride> per_layer;

  // The bits layer `prefix` is quantized with.
  int bits_for(const std::string& prefix) const;

  // --- QuantEase (method quantease; see quant/solver_quantease.hpp) ---
  int64_t sweeps = 30;                              // coordinate-descent passes
  std::string init = "w";                           // w | gptq
  double outlier_fraction = 0.0;                    // 0 = none
  std::string outlier_structure = "unstructured";   // unstructured | columns
  int64_t relax_sweeps = 25;                        // unrounded sweeps 1, 4, 7, ... up to this one (0 = none)

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

 private:
  bool set_higgs_option(const std::string& key, const std::string& value);
};

}  // namespace sq
