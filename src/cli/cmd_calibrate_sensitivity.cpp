// `streamquant calibrate-sensitivity MODEL --text FILE -o alphas.json`: each linear layer's alpha (the
// perplexity increase per unit of relative MSE, HIGGS linearity theorem) by seeded noise injection, one
// layer at a time; the file feeds `quantize --target-bpw B --sensitivity alphas.json`.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"

namespace {

struct SensitivityArgs {
  std::string model, text, out;
  size_t seqlen = 512, max_tokens = 1024;
  std::vector<double> noise_levels = {0.02};
  uint64_t seed = 0;
  int threads = 0;
  bool one_sided = false, verbose = false;
};

void run(const SensitivityArgs& a) {
  sqcli::Context ctx("cpu", a.threads, a.verbose);
  sqcli::Model model(ctx, a.model);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = sqcli::tokenize_text(model, sqcli::read_text_file(a.text));
  sqcli::check(sq_model_calibrate_sensitivity(model.ptr, ids.data(), ids.size(), a.seqlen, a.max_tokens,
                                              a.noise_levels.data(), a.noise_levels.size(), a.seed,
                                              a.one_sided ? 0 : 1, a.text.c_str(), a.out.c_str()));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "wrote %s (%.1f s)\n", a.out.c_str(), secs);
}

void setup(CLI::App& app) {
  auto args = std::make_shared<SensitivityArgs>();
  CLI::App* cmd = app.add_subcommand("calibrate-sensitivity",
                                     "Per-layer sensitivity (alpha) by noise injection, for --target-bpw allocation");
  cmd->add_option("model", args->model, "Model directory, .safetensors or .gguf file")->required();
  cmd->add_option("--text", args->text, "UTF-8 text file to measure perplexity on")->required();
  cmd->add_option("-o,--output", args->out, "Output JSON file")->required();
  cmd->add_option("--seqlen", args->seqlen, "Window length in tokens (default 512)")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-tokens", args->max_tokens, "Use only the first N tokens of the text (default 1024; 0 = all)");
  cmd->add_option("--noise-levels", args->noise_levels, "Relative MSE levels t of the injected noise (default 0.02)")
      ->check(CLI::Range(1e-9, 10.0));
  cmd->add_option("--seed", args->seed, "Noise seed");
  cmd->add_flag("--one-sided", args->one_sided, "Measure W + E only (default: W + E and W - E averaged)");
  cmd->add_option("--threads", args->threads, "CPU threads (0 = all)");
  cmd->add_flag("-v,--verbose", args->verbose, "Debug logging");
  cmd->callback([args] { run(*args); });
}

const sqcli::Registrar reg("calibrate-sensitivity", &setup);

}  // namespace
