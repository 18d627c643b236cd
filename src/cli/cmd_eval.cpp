// `streamquant eval MODEL --text FILE [--seqlen L] [--max-tokens N] [--json]`: perplexity of a text with
// the GPTQ papers' protocol (non-overlapping windows of seq_len tokens). Works on original models and on
// every output format this library writes (they open as their dequantized weights).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"

namespace {

struct EvalArgs {
  std::string model, text;
  size_t seqlen = 2048, max_tokens = 0;
  int threads = 0;
  bool json = false;
};

void run_eval(const EvalArgs& a) {
  sqcli::Context ctx("cpu", a.threads);
  sqcli::Model model(ctx, a.model);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = sqcli::tokenize_text(model, sqcli::read_text_file(a.text));
  double ppl = 0.0;
  size_t scored = 0;
  sqcli::check(sq_model_perplexity(model.ptr, ids.data(), ids.size(), a.seqlen, a.max_tokens, &ppl, &scored));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (a.json) {
    std::printf("{\"model\": \"%s\", \"text\": \"%s\", \"perplexity\": %.6f, \"tokens\": %zu, \"tokens_scored\": %zu, "
                "\"seqlen\": %zu, \"seconds\": %.2f}\n",
                a.model.c_str(), a.text.c_str(), ppl, ids.size(), scored, a.seqlen, secs);
  } else {
    std::printf("perplexity: %.4f\n", ppl);
    std::fprintf(stderr, "(%zu tokens in the text, %zu scored, windows of %zu, %.1f s)\n", ids.size(), scored,
                 a.seqlen, secs);
  }
}

void setup(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Perplexity of a text file under a model (original or quantized)");
  cmd->add_option("model", args->model, "Model directory, .safetensors, .gguf, or a quantized output")->required();
  cmd->add_option("--text", args->text, "UTF-8 text file")->required();
  cmd->add_option("--seqlen", args->seqlen, "Window length in tokens (default 2048)")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--max-tokens", args->max_tokens, "Use only the first N tokens of the text (0 = all)");
  cmd->add_option("--threads", args->threads, "CPU threads (0 = all)");
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->callback([args] { run_eval(*args); });
}

const sqcli::Registrar reg("eval", &setup);

}  // namespace
