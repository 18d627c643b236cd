// Per-layer bit plans for a job: dynamic allocation by the HIGGS linearity theorem (target_bpw +
// sensitivity file), or an explicit plan file. Resolved once, at the job's start, into JobOptions::per_layer.
//
// Options per layer. HIGGS (higgs, higgs-gptq): the Gaussian grids at 2, 3, 4 bits, t = the grid MSE on N(0, 1).
// Affine grids (rtn, gptq, leanquant-affine):
// bits b in {2, 3, 4, 8} at the job's group size g. Storage cost, as a GPTQ checkpoint holds it:
//   bits_per_weight(b) = b + (16 + b) / g      (one fp16 scale and one b-bit packed zero per row and group;
//                                               per-channel: g = cols)
// The relative MSE t_l(b) of each option is MEASURED on the layer's actual weight: ||W - RTN_b(W)||^2 /
// ||W||^2 with RTN at the job's group size and symmetry (data-free, cheap). For GPTQ this is a proxy: the
// GPTQ error is lower, by a similar factor across bit widths, so the ranking of choices is kept.
// The DP (quant/bit_allocation) minimizes sum_l alpha_l t_l(b_l) s.t. sum_l numel_l bpw(b_l) <=
// target_bpw * sum_l numel_l, over the linear layers only (embeddings, head and norms are not counted).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "io/model_config.hpp"
#include "io/weight_source.hpp"
#include "pipeline/job_options.hpp"
#include "util/log.hpp"

namespace sq {

constexpr int kPlanBitChoices[] = {2, 3, 4, 8};

double affine_bits_per_weight(int bits, int64_t group_size, int64_t cols);

struct LinearLayerInfo {
  std::string prefix;
  int64_t rows = 0, cols = 0;
};
// Every linear layer the job quantizes, in job order.
std::vector<LinearLayerInfo> job_linear_layers(const WeightSource& src, const ModelConfig& cfg);

// Relative RTN MSE of every linear layer at each of kPlanBitChoices: result[prefix][i].
std::map<std::string, std::vector<double>> measure_rtn_mse(Backend& be, const WeightSource& src,
                                                           const ModelConfig& cfg, int64_t group_size, bool sym);

// The summary a writer records.
struct PlanSummary {
  double achieved_bpw = 0.0;  // sum numel * bpw / sum numel over the planned layers
  int64_t weights = 0;
  double predicted_dppl = 0.0;  // sum alpha_l * rel_mse_l where both are known (else 0)
};
PlanSummary summarize_plan(const JobOptions& opts);

// Fill opts.per_layer from opts.target_bpw + opts.sensitivity_file, or from opts.bit_plan_file; no-op when
// neither is set. Errors name the option, the file and the layer at fault.
void resolve_bit_plan(JobOptions& opts, Backend& be, const WeightSource& src, const ModelConfig& cfg,
                      const Logger& log);

}  // namespace sq
