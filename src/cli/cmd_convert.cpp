// `streamquant convert MODEL -o DIR [--dtype f16|bf16|f32]`: write any readable model (GGUF included) as a
// Hugging Face directory: config.json, model.safetensors, tokenizer.json.
#include <cstdio>
#include <map>
#include <string>

#include "cli/cli_common.hpp"

namespace {

struct ConvertArgs {
  std::string path, out, dtype = "auto";
};

void run_convert(const ConvertArgs& a) {
  static const std::map<std::string, int32_t> dtypes = {
      {"auto", -1}, {"f16", SQ_DTYPE_F16}, {"bf16", SQ_DTYPE_BF16}, {"f32", SQ_DTYPE_F32}};
  sqcli::Context ctx;
  sqcli::Model model(ctx, a.path);
  sqcli::check(sq_model_save_hf(model.ptr, a.out.c_str(), dtypes.at(a.dtype)));
  std::fprintf(stderr, "wrote %s\n", a.out.c_str());
}

void setup(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Write a model (e.g. a GGUF file) as a Hugging Face directory");
  cmd->add_option("model", args->path, "Model directory, .safetensors or .gguf file")->required();
  cmd->add_option("-o,--output", args->out, "Output directory (must not exist or be empty)")->required();
  cmd->add_option("--dtype", args->dtype, "Output float type; auto = the source's (fp16 for GGUF blocks)")
      ->check(CLI::IsMember({"auto", "f16", "bf16", "f32"}));
  cmd->callback([args] { run_convert(*args); });
}

const sqcli::Registrar reg("convert", &setup);

}  // namespace
