#include "pipeline/sensitivity.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "model/forward.hpp"
#include "model/llama_block.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr LinearGroup kGroupOrder[] = {LinearGroup::QKV, LinearGroup::O, LinearGroup::GateUp, LinearGroup::Down};
constexpr int64_t kHeadRows = 256;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Mean NLL of the windows whose final hidden states are in `hidden` ([windows, len, h]).
double mean_nll(Backend& be, const LmHead& head, const float* hidden, const int32_t* tokens, int64_t windows,
                int64_t len, int64_t h) {
  std::vector<float> logits(size_t(std::min(kHeadRows, len) * head.vocab()));
  double total = 0.0;
  for (int64_t s = 0; s < windows; ++s)
    for (int64_t r0 = 0; r0 < len - 1; r0 += kHeadRows) {
      const int64_t rows = std::min(kHeadRows, len - 1 - r0);
      head.logits(be, hidden + (s * len + r0) * h, rows, logits.data());
      total += sum_nll(logits.data(), rows, head.vocab(), tokens + s * len + r0 + 1);
    }
  return total / double(windows * (len - 1));
}

// Least squares through the origin: argmin_a sum_i (y_i - a t_i)^2.
double slope_through_origin(const std::vector<double>& t, const std::vector<double>& y) {
  double ty = 0, tt = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    ty += t[i] * y[i];
    tt += t[i] * t[i];
  }
  return ty / tt;
}

}  // namespace

void sensitivity_noise(uint64_t seed, uint64_t layer, uint64_t level, float* out, size_t n) {
  uint64_t state = seed ^ (layer * 0xd1b54a32d192ed03ull) ^ (level * 0x8cb92ba72f3d8dd7ull);
  splitmix64(state);
  // Box-Muller on 53-bit uniforms: portable, unlike std::normal_distribution.
  const double two_pi = 6.283185307179586;
  for (size_t i = 0; i < n; i += 2) {
    const double u1 = (double(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = double(splitmix64(state) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = float(r * std::cos(two_pi * u2));
    if (i + 1 < n) out[i + 1] = float(r * std::sin(two_pi * u2));
  }
}

SensitivityResult measure_sensitivity(Backend& be, const WeightSource& src, const ModelConfig& cfg,
                                      const int32_t* tokens, size_t n, const SensitivityOptions& opt,
                                      const SensitivityProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (cfg.hidden_size <= 0 || cfg.num_hidden_layers <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "sensitivity: the model config is empty");
  if (opt.seq_len < 2) throw_error(SQ_ERR_INVALID_ARGUMENT, "sensitivity: seq_len must be at least 2, got ", opt.seq_len);
  if (opt.noise_levels.empty())
    throw_error(SQ_ERR_INVALID_ARGUMENT, "sensitivity: at least one noise level is needed");
  for (double t : opt.noise_levels)
    if (!(t > 0.0 && t <= 10.0))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "sensitivity: noise level ", t, " is outside (0, 10]");
  const uint64_t used = opt.max_tokens > 0 ? std::min<uint64_t>(n, opt.max_tokens) : n;
  const int64_t len = opt.seq_len, h = cfg.hidden_size, L = cfg.num_hidden_layers;
  const int64_t windows = int64_t(used / uint64_t(len));
  if (windows == 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "sensitivity: ", used, " tokens do not fill one window of seq_len ", len);
  const size_t state_floats = size_t(windows * len * h);

  // Clean hidden states at the input of every block (and after the last one).
  std::vector<std::vector<float>> block_in(size_t(L + 1));
  block_in[0].resize(state_floats);
  for (int64_t s = 0; s < windows; ++s) embed_tokens(src, cfg, tokens + s * len, len, block_in[0].data() + s * len * h);
  const RopeTables rope = make_rope_tables(cfg, len);
  for (int64_t b = 0; b < L; ++b) {
    block_in[size_t(b + 1)] = block_in[size_t(b)];
    const BlockWeights w = load_block_weights(src, cfg, b);
    for (int64_t s = 0; s < windows; ++s) block_forward(be, cfg, w, rope, block_in[size_t(b + 1)].data() + s * len * h, len);
  }
  const LmHead head(src, cfg);

  SensitivityResult res;
  res.base_nll = mean_nll(be, head, block_in[size_t(L)].data(), tokens, windows, len, h);
  res.base_ppl = std::exp(res.base_nll);
  res.tokens_scored = uint64_t(windows * (len - 1));
  res.windows = windows;
  res.seq_len = len;
  res.noise_levels = opt.noise_levels;
  res.antithetic = opt.antithetic;
  res.seed = opt.seed;

  // Perplexity with block b's weights as they are in `w` (one layer perturbed), later blocks clean.
  std::vector<float> hidden;
  auto nll_from_block = [&](int64_t b, const BlockWeights& w) {
    hidden = block_in[size_t(b)];
    for (int64_t s = 0; s < windows; ++s) block_forward(be, cfg, w, rope, hidden.data() + s * len * h, len);
    for (int64_t later = b + 1; later < L; ++later) {
      const BlockWeights lw = load_block_weights(src, cfg, later);
      for (int64_t s = 0; s < windows; ++s) block_forward(be, cfg, lw, rope, hidden.data() + s * len * h, len);
    }
    return mean_nll(be, head, hidden.data(), tokens, windows, len, h);
  };

  const int64_t total_layers = L * 7;
  int64_t layer_index = 0;
  std::vector<float> noise;
  for (int64_t b = 0; b < L; ++b) {
    BlockWeights w = load_block_weights(src, cfg, b);
    for (LinearGroup g : kGroupOrder)
      for (const std::string& name : linear_names(g)) {
        std::vector<float>& weight = w.linear(name);
        const std::vector<float> clean = weight;
        LayerSensitivity ls;
        ls.name = cfg.layer_prefix(b) + name;
        const std::string tensor = ls.name + ".weight";
        const size_t ti = src.require(tensor);
        const auto& shape = src.tensors()[ti].shape;
        ls.rows = shape.size() == 2 ? shape[0] : int64_t(weight.size());
        ls.cols = shape.size() == 2 ? shape[1] : 1;
        double w2 = 0.0;
        for (float x : clean) w2 += double(x) * double(x);
        noise.resize(clean.size());
        for (size_t lvl = 0; lvl < opt.noise_levels.size(); ++lvl) {
          const double t = opt.noise_levels[lvl];
          sensitivity_noise(opt.seed, uint64_t(layer_index), lvl, noise.data(), noise.size());
          double e2 = 0.0;
          for (float x : noise) e2 += double(x) * double(x);
          // ||E||^2 = t ||W||^2 exactly (not just in expectation).
          const float scale = e2 > 0 ? float(std::sqrt(t * w2 / e2)) : 0.0f;
          double nll_sum = 0.0, ppl_sum = 0.0;
          const int signs = opt.antithetic ? 2 : 1;
          for (int k = 0; k < signs; ++k) {
            const float sgn = k == 0 ? scale : -scale;
            for (size_t i = 0; i < clean.size(); ++i) weight[i] = clean[i] + sgn * noise[i];
            const double nll = nll_from_block(b, w);
            nll_sum += nll;
            ppl_sum += std::exp(nll);
          }
          weight = clean;
          ls.dnll.push_back(nll_sum / signs - res.base_nll);
          ls.dppl.push_back(ppl_sum / signs - res.base_ppl);
        }
        ls.alpha = slope_through_origin(opt.noise_levels, ls.dppl);
        ls.alpha_nll = slope_through_origin(opt.noise_levels, ls.dnll);
        res.layers.push_back(std::move(ls));
        ++layer_index;
        if (progress && progress(layer_index, total_layers) != 0)
          throw_error(SQ_ERR_CANCELLED, "sensitivity calibration cancelled after ", layer_index, "/", total_layers,
                      " layers");
      }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

nlohmann::json sensitivity_to_json(const SensitivityResult& r, const std::string& model, const std::string& text) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"name", l.name}, {"numel", l.rows * l.cols}, {"rows", l.rows}, {"cols", l.cols},
                      {"alpha", l.alpha}, {"alpha_nll", l.alpha_nll}, {"dppl", l.dppl}, {"dnll", l.dnll}});
  return {{"model", model},
          {"text", text},
          {"tokens", r.tokens_scored + uint64_t(r.windows)},
          {"tokens_scored", r.tokens_scored},
          {"seq_len", r.seq_len},
          {"windows", r.windows},
          {"base_ppl", r.base_ppl},
          {"base_nll", r.base_nll},
          {"noise_levels", r.noise_levels},
          {"antithetic", r.antithetic},
          {"seed", r.seed},
          {"seconds", r.seconds},
          {"metric", "alpha = d perplexity / d relative MSE (least squares through the origin)"},
          {"layers", layers}};
}

std::vector<SensitivityEntry> read_sensitivity_file(const std::string& path) {
  const auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("layers") || !j["layers"].is_array())
    throw_error(SQ_ERR_FORMAT, "sensitivity file '", path, "': expected a JSON object with a 'layers' array");
  std::vector<SensitivityEntry> out;
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    const auto& e = j["layers"][i];
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("alpha") ||
        !e["alpha"].is_number())
      throw_error(SQ_ERR_FORMAT, "sensitivity file '", path, "': layers[", i, "] needs a string 'name' and a number 'alpha'");
    const double a = e["alpha"].get<double>();
    if (!std::isfinite(a))
      throw_error(SQ_ERR_FORMAT, "sensitivity file '", path, "': layers[", i, "] ('", e["name"].get<std::string>(),
                  "') has a non-finite alpha");
    out.push_back({e["name"].get<std::string>(), a});
  }
  return out;
}

}  // namespace sq
