// `streamquant inspect PATH [--json]`: what a model holds, without loading it.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_common.hpp"

namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
};

std::string human_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

void run_inspect(const InspectArgs& a) {
  sqcli::Context ctx;
  sqcli::Model model(ctx, a.path);
  if (a.json) {
    std::printf("%s\n", sq_model_describe_json(model.ptr));
    return;
  }
  const nlohmann::json d = nlohmann::json::parse(sq_model_describe_json(model.ptr));
  std::printf("path:          %s (%s)\n", a.path.c_str(), d["format"].get<std::string>().c_str());
  if (!d["architecture"].is_null()) {
    std::printf("architecture:  %s\n", d["architecture"].get<std::string>().c_str());
    std::printf("blocks:        %lld\n", (long long)d["num_blocks"].get<double>());
    std::printf("hidden size:   %lld\n", (long long)d["hidden_size"].get<double>());
    std::printf("heads:         %lld (kv %lld, head dim %lld)\n", (long long)d["num_heads"].get<double>(),
                (long long)d["num_kv_heads"].get<double>(), (long long)d["head_dim"].get<double>());
    std::printf("vocab:         %lld\n", (long long)d["vocab_size"].get<double>());
  } else {
    std::printf("architecture:  unknown (no config.json)\n");
  }
  std::printf("parameters:    %s (%.0f)\n", human_count(d["parameters"].get<double>()).c_str(), d["parameters"].get<double>());
  std::printf("total bytes:   %.0f (%.1f MiB)\n", d["total_bytes"].get<double>(), d["total_bytes"].get<double>() / 1048576.0);
  const size_t n = sq_model_tensor_count(model.ptr);
  std::printf("tensors:       %zu\n", n);
  for (size_t i = 0; i < n; ++i) {
    const char* name = nullptr;
    int32_t dtype = 0, ndim = 0;
    int64_t dims[SQ_MAX_DIMS];
    sqcli::check(sq_model_tensor_info(model.ptr, i, &name, &dtype, &ndim, dims));
    std::string shape = "[";
    for (int32_t k = 0; k < ndim; ++k) shape += (k ? ", " : "") + std::to_string(dims[k]);
    shape += "]";
    std::printf("  %-56s %-5s %s\n", name, sq_dtype_name(dtype), shape.c_str());
  }
}

void setup(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model's architecture, size and tensors");
  cmd->add_option("path", args->path, "Model directory, .safetensors or .gguf file")->required();
  cmd->add_flag("--json", args->json, "Print the description as JSON");
  cmd->callback([args] { run_inspect(*args); });
}

const sqcli::Registrar reg("inspect", &setup);

}  // namespace
