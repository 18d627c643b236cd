#include "pipeline/bit_plan.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "model/llama_block.hpp"
#include "pipeline/sensitivity.hpp"
#include "quant/bit_allocation.hpp"
#include "quant/gaussian_grids.hpp"
#include "quant/higgs_layer.hpp"
#include "quant/layer_quantizer.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr LinearGroup kGroupOrder[] = {LinearGroup::QKV, LinearGroup::O, LinearGroup::GateUp, LinearGroup::Down};

bool is_allowed_bits(int64_t b) {
  for (int c : kPlanBitChoices)
    if (c == b) return true;
  return false;
}

double relative_error(const std::vector<float>& w, const std::vector<float>& q) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double d = double(w[i]) - double(q[i]);
    num += d * d;
    den += double(w[i]) * double(w[i]);
  }
  return den > 0 ? num / den : 0.0;
}

// {prefix: bits} or {"per_layer": {prefix: bits | {"bits": b, ...}}} (the latter is what outputs record).
std::map<std::string, int> read_plan_file(const std::string& path) {
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw_error(SQ_ERR_FORMAT, "option 'bit_plan_file': '", path, "' is not a JSON object");
  if (j.contains("per_layer")) j = j["per_layer"];
  std::map<std::string, int> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const nlohmann::json& v = it.value().is_object() && it.value().contains("bits") ? it.value()["bits"] : it.value();
    if (!v.is_number_integer() || !is_allowed_bits(v.get<int64_t>()))
      throw_error(SQ_ERR_FORMAT, "option 'bit_plan_file': '", path, "': layer '", it.key(),
                  "' needs bits 2, 3, 4 or 8; got ", v.dump());
    out[it.key()] = v.get<int>();
  }
  return out;
}

void check_known_prefixes(const std::vector<std::string>& names, const std::vector<LinearLayerInfo>& layers,
                          const std::string& what) {
  std::map<std::string, bool> known;
  for (const auto& l : layers) known[l.prefix] = true;
  for (const auto& n : names)
    if (!known.count(n))
      throw_error(SQ_ERR_INVALID_ARGUMENT, what, " names layer '", n, "', which is not a linear layer of the model (",
                  "expected e.g. '", layers.empty() ? std::string() : layers.front().prefix, "')");
}

}  // namespace

double affine_bits_per_weight(int bits, int64_t group_size, int64_t cols) {
  const int64_t g = group_size > 0 ? group_size : cols;
  return double(bits) + double(16 + bits) / double(g);
}

std::vector<LinearLayerInfo> job_linear_layers(const WeightSource& src, const ModelConfig& cfg) {
  std::vector<LinearLayerInfo> out;
  for (int64_t b = 0; b < cfg.num_hidden_layers; ++b)
    for (LinearGroup g : kGroupOrder)
      for (const std::string& name : linear_names(g)) {
        const std::string prefix = cfg.layer_prefix(b) + name;
        const auto& shape = src.tensors()[src.require(prefix + ".weight")].shape;
        if (shape.size() != 2) throw_error(SQ_ERR_FORMAT, "tensor '", prefix, ".weight' is not 2-D");
        out.push_back({prefix, shape[0], shape[1]});
      }
  return out;
}

std::map<std::string, std::vector<double>> measure_rtn_mse(Backend& be, const WeightSource& src,
                                                           const ModelConfig& cfg, int64_t group_size, bool sym) {
  std::map<std::string, std::vector<double>> out;
  for (int64_t b = 0; b < cfg.num_hidden_layers; ++b) {
    BlockWeights w = load_block_weights(src, cfg, b);
    for (LinearGroup g : kGroupOrder)
      for (const std::string& name : linear_names(g)) {
        const std::vector<float>& weight = w.linear(name);
        const std::string prefix = cfg.layer_prefix(b) + name;
        const auto& shape = src.tensors()[src.require(prefix + ".weight")].shape;
        std::vector<double>& mse = out[prefix];
        for (int bits : kPlanBitChoices) {
          QuantizeOptions q;
          q.method = "rtn";
          q.bits = bits;
          q.group_size = group_size;
          q.sym = sym;
          q.compute_objective = false;
          const QuantizedLayer ql = quantize_layer(be, weight.data(), shape[0], shape[1], nullptr, q, null_logger());
          mse.push_back(relative_error(weight, ql.dequant));
        }
      }
  }
  return out;
}

namespace {

bool is_higgs(const std::string& method) { return method == "higgs" || method == "higgs-gptq"; }

// The bit widths a method's plans choose from: HIGGS's Gaussian grids, else kPlanBitChoices.
std::vector<int> offered_bits(const std::string& method) {
  if (is_higgs(method)) return {2, 3, 4};
  return std::vector<int>(std::begin(kPlanBitChoices), std::end(kPlanBitChoices));
}

// Whether option plan_bits lets a plan use `bits` (no restriction when it is empty).
bool allowed(const JobOptions& opts, int bits) {
  return opts.plan_bits.empty() || std::find(opts.plan_bits.begin(), opts.plan_bits.end(), bits) != opts.plan_bits.end();
}

// The options the DP picks from for one layer: bits, their storage cost and the relative MSE they cause.
// HIGGS: the Gaussian grid of each bit width; its relative MSE is the grid's MSE on N(0, 1) (the linearity
// theorem's t, checked against real layers in test_higgs_pipeline), its cost codes + one fp16 scale per group.
// Affine methods: bits {2, 3, 4, 8}, the GPTQ storage cost and the RTN error measured on the weight.
std::vector<std::pair<int, BitOption>> layer_choices(const JobOptions& opts, const LinearLayerInfo& l,
                                                     const std::map<std::string, std::vector<double>>& rtn_mse) {
  std::vector<std::pair<int, BitOption>> out;
  if (is_higgs(opts.method)) {
    const int64_t group = opts.group_size > 0 ? opts.group_size : opts.hadamard_size;
    const int p = opts.grid_dim > 0 ? opts.grid_dim : (opts.method == "higgs" ? 2 : 1);  // as resolve_method
    for (int bits : offered_bits(opts.method)) {
      if (!allowed(opts, bits)) continue;
      const GaussianGridId id = higgs_grid_for_bits(bits, p);
      out.push_back({bits, {higgs_bits_per_weight(id, group), gaussian_grid(id.p, id.n).mse}});
    }
    return out;
  }
  for (size_t i = 0; i < std::size(kPlanBitChoices); ++i)
    if (allowed(opts, kPlanBitChoices[i]))
      out.push_back({kPlanBitChoices[i],
                     {affine_bits_per_weight(kPlanBitChoices[i], opts.group_size, l.cols), rtn_mse.at(l.prefix)[i]}});
  return out;
}

}  // namespace

PlanSummary summarize_plan(const JobOptions& opts) {
  PlanSummary s;
  double bits = 0.0;
  for (const auto& [prefix, o] : opts.per_layer) {
    s.weights += o.numel;
    bits += double(o.numel) * o.bits_per_weight;
    if (o.alpha >= 0 && o.rel_mse >= 0) s.predicted_dppl += o.alpha * o.rel_mse;
  }
  s.achieved_bpw = s.weights > 0 ? bits / double(s.weights) : 0.0;
  return s;
}

void resolve_bit_plan(JobOptions& opts, Backend& be, const WeightSource& src, const ModelConfig& cfg,
                      const Logger& log) {
  const bool dynamic = opts.target_bpw > 0;
  if (!dynamic && !opts.sensitivity_file.empty())
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'sensitivity_file' needs option 'target_bpw'");
  if (dynamic && opts.sensitivity_file.empty())
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'target_bpw' needs option 'sensitivity_file' (from calibrate-sensitivity)");
  if (dynamic && !opts.bit_plan_file.empty())
    throw_error(SQ_ERR_INVALID_ARGUMENT, "options 'target_bpw' and 'bit_plan_file' exclude each other");
  if (!dynamic && opts.bit_plan_file.empty()) return;
  if (opts.method == "leanquant")
    throw_error(SQ_ERR_UNSUPPORTED, "per-layer bit plans are for rtn, gptq, leanquant-affine, higgs and higgs-gptq; method '",
                opts.method, "' is not supported");

  const std::vector<LinearLayerInfo> layers = job_linear_layers(src, cfg);
  // Checked before the (costly) RTN error measurement.
  const std::vector<int> offered = offered_bits(opts.method);
  if (std::none_of(offered.begin(), offered.end(), [&](int b) { return allowed(opts, b); })) {
    std::string list;
    for (int b : offered) list += (list.empty() ? "" : ", ") + std::to_string(b);
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'plan_bits' leaves no bit width that method '", opts.method,
                "' offers (", list, ")");
  }
  std::map<std::string, double> alphas;
  if (dynamic) {
    std::vector<std::string> names;
    for (const auto& e : read_sensitivity_file(opts.sensitivity_file)) {
      alphas[e.name] = e.alpha;
      names.push_back(e.name);
    }
    check_known_prefixes(names, layers, "sensitivity file '" + opts.sensitivity_file + "'");
  }
  std::map<std::string, std::vector<double>> mse;
  if (!is_higgs(opts.method)) mse = measure_rtn_mse(be, src, cfg, opts.group_size, opts.sym);
  opts.per_layer.clear();

  if (!dynamic) {
    const auto plan = read_plan_file(opts.bit_plan_file);
    std::vector<std::string> names;
    for (const auto& [n, b] : plan) names.push_back(n);
    check_known_prefixes(names, layers, "bit plan file '" + opts.bit_plan_file + "'");
    for (const auto& l : layers) {
      const auto it = plan.find(l.prefix);
      const int bits = it == plan.end() ? opts.bits : it->second;
      LayerOverride o;
      o.bits = bits;
      o.numel = l.rows * l.cols;
      bool offered = false;
      for (const auto& [b, option] : layer_choices(opts, l, mse))
        if (b == bits) {
          o.bits_per_weight = option.bits_per_weight;
          o.rel_mse = option.mse;
          offered = true;
        }
      if (!offered)
        throw_error(SQ_ERR_INVALID_ARGUMENT, "bit plan file '", opts.bit_plan_file, "': layer '", l.prefix, "' asks for ",
                    bits, " bits, which method '", opts.method, "' does not offer",
                    opts.plan_bits.empty() ? "" : " or option 'plan_bits' excludes");
      opts.per_layer[l.prefix] = o;
    }
    return;
  }

  BitAllocationProblem p;
  p.max_units = int64_t(1) << 18;
  int negative = 0;
  double weights = 0;
  std::vector<std::vector<int>> choice_bits;  // the bit width of each option, per layer
  for (const auto& l : layers) {
    const auto it = alphas.find(l.prefix);
    if (it == alphas.end())
      throw_error(SQ_ERR_FORMAT, "sensitivity file '", opts.sensitivity_file, "' has no alpha for layer '", l.prefix, "'");
    // A negative slope is measurement noise on an insensitive layer: treat it as zero sensitivity.
    if (it->second < 0) ++negative;
    p.alphas.push_back(std::max(0.0, it->second));
    p.numel.push_back(l.rows * l.cols);
    weights += double(l.rows * l.cols);
    std::vector<BitOption> opts_l;
    std::vector<int> bits_l;
    for (const auto& [b, option] : layer_choices(opts, l, mse)) {
      bits_l.push_back(b);
      opts_l.push_back(option);
    }
    p.options.push_back(std::move(opts_l));
    choice_bits.push_back(std::move(bits_l));
  }
  if (negative > 0) log.warn("sensitivity file '", opts.sensitivity_file, "': ", negative, " layers have a negative alpha, used as 0");
  p.budget_bits = opts.target_bpw * weights;
  double cheapest = 0.0;  // bits of the plan that gives every layer its smallest option
  for (size_t i = 0; i < p.options.size(); ++i) {
    double least = p.options[i].front().bits_per_weight;
    for (const BitOption& o : p.options[i]) least = std::min(least, o.bits_per_weight);
    cheapest += least * double(p.numel[i]);
  }
  if (p.budget_bits < cheapest)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'target_bpw' (", opts.target_bpw, ") is below the cheapest plan the ",
                opts.plan_bits.empty() ? "method offers" : "widths of option 'plan_bits' allow", ": ", cheapest / weights,
                " bits per weight at group size ", opts.group_size);
  const BitAllocation a = allocate_bits(p);
  for (size_t i = 0; i < layers.size(); ++i) {
    const int j = a.choice[i];
    LayerOverride o;
    o.bits = choice_bits[i][size_t(j)];
    o.numel = p.numel[i];
    o.bits_per_weight = p.options[i][size_t(j)].bits_per_weight;
    o.rel_mse = p.options[i][size_t(j)].mse;
    o.alpha = p.alphas[i];
    opts.per_layer[layers[i].prefix] = o;
  }
  log.info("bit allocation: target ", opts.target_bpw, " bpw, achieved ", a.total_bits / weights, " bpw over ",
           layers.size(), " layers; predicted perplexity increase ", a.objective);
}

}  // namespace sq
