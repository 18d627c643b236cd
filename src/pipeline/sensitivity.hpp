// Per-layer sensitivity for dynamic bit allocation (HIGGS linearity theorem, ALGORITHMS.md "HIGGS"):
// the perplexity increase of a model whose layers carry relative errors t_l is about sum_l alpha_l * t_l.
// alpha_l is measured by noise injection: W_l <- W_l + E with E Gaussian, scaled so that
// ||E||_F^2 = t ||W_l||_F^2 exactly, one layer at a time, and fitting dPPL = alpha_l * t by least squares
// through the origin over the noise levels t.
//
// Cost: the clean hidden states at every block's input are kept (windows * seq_len * hidden floats per
// block), so perturbing a layer of block b re-runs only blocks b .. L-1 and the head. Block weights are
// loaded one block at a time; the perturbed layer is changed in place and restored, never copied whole.
//
// Antithetic pairs (default): each level is measured at W + E and W - E and the two increases averaged.
// This cancels the first-order term g . E exactly (g the loss gradient on the evaluation tokens), which on
// a few hundred tokens is not zero and otherwise dominates small-t measurements; what remains is the
// second-order term the linearity theorem describes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.hpp"
#include "io/model_config.hpp"
#include "io/weight_source.hpp"

namespace sq {

struct SensitivityOptions {
  int64_t seq_len = 512;                   // tokens per window
  uint64_t max_tokens = 1024;              // first tokens of the text used (0 = all); whole windows only
  std::vector<double> noise_levels = {0.02};  // relative MSE t of the injected noise, each in (0, 10]
  uint64_t seed = 0;                       // noise of layer l, level i, is a function of (seed, l, i)
  bool antithetic = true;                  // measure +E and -E and average (see above)
};

struct LayerSensitivity {
  std::string name;  // layer prefix, e.g. "model.layers.3.mlp.down_proj"
  int64_t rows = 0, cols = 0;
  double alpha = 0.0;      // d perplexity / d t (least squares over the levels)
  double alpha_nll = 0.0;  // d mean NLL / d t (log-perplexity)
  std::vector<double> dppl, dnll;  // measured increase at each noise level
};

struct SensitivityResult {
  double base_ppl = 0.0, base_nll = 0.0;
  uint64_t tokens_scored = 0;
  int64_t windows = 0, seq_len = 0;
  std::vector<double> noise_levels;
  bool antithetic = true;
  uint64_t seed = 0;
  std::vector<LayerSensitivity> layers;  // block order, then QKV, O, GateUp, Down
  double seconds = 0.0;
};

// Called after each layer: (layers done, layer count); non-zero cancels (SQ_ERR_CANCELLED).
using SensitivityProgressFn = std::function<int(int64_t done, int64_t total)>;

SensitivityResult measure_sensitivity(Backend& be, const WeightSource& src, const ModelConfig& cfg,
                                      const int32_t* tokens, size_t n, const SensitivityOptions& opt,
                                      const SensitivityProgressFn& progress = {});

// Fills a layer's noise: n values ~ N(0, 1) from (seed, layer, level), the same on every platform.
void sensitivity_noise(uint64_t seed, uint64_t layer, uint64_t level, float* out, size_t n);

// JSON: {model, text, tokens, base_ppl, base_nll, seq_len, windows, noise_levels, antithetic, seed, seconds,
//        layers: [{name, numel, rows, cols, alpha, alpha_nll, dppl: [...], dnll: [...]}]}
nlohmann::json sensitivity_to_json(const SensitivityResult& r, const std::string& model, const std::string& text);

// alphas by layer prefix from a file written by sensitivity_to_json (SQ_ERR_FORMAT naming the file and entry).
struct SensitivityEntry {
  std::string name;
  double alpha = 0.0;
};
std::vector<SensitivityEntry> read_sensitivity_file(const std::string& path);

}  // namespace sq
