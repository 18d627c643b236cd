// `streamquant quantize MODEL -o OUT ...`: run a quantization job and write its output, with a progress
// line on stderr. Uses the library only through the C API.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/cli_common.hpp"

namespace {

struct QuantizeArgs {
  std::string model, out, method = "gptq", calib, format = "gptq", device = "cpu", checkpoint;
  int bits = 4, threads = 0;
  int64_t group_size = 128, nsamples = 128, seqlen = 2048, seed = 0;
  bool resume = false, act_order = false, sym = false, verbose = false;
};

QuantizeArgs args;

// QuantEase options: passed to the job only when given (empty = the library's default).
struct QuantEaseArgs {
  std::string sweeps, init, outlier_fraction, outlier_structure, relax_sweeps;
};
QuantEaseArgs quantease_args;

void add_quantease_options(CLI::App* cmd) {
  cmd->add_option("--sweeps", quantease_args.sweeps, "quantease: coordinate-descent sweeps (default 30)");
  cmd->add_option("--init", quantease_args.init, "quantease: start from w (the weights) or gptq (default w)")
      ->check(CLI::IsMember({"w", "gptq"}));
  cmd->add_option("--outlier-fraction", quantease_args.outlier_fraction,
                  "quantease: fraction of weights (or columns) kept in full precision (default 0; needs --format sq)");
  cmd->add_option("--outlier-structure", quantease_args.outlier_structure,
                  "quantease: unstructured (top entries) or columns (whole columns)")
      ->check(CLI::IsMember({"unstructured", "columns"}));
  cmd->add_option("--relax-sweeps", quantease_args.relax_sweeps,
                  "quantease: sweeps 1, 4, 7, ... up to this one skip rounding (default 25; 0 = none)");
}

template <typename Set>
void set_quantease_options(const Set& set) {
  if (!quantease_args.sweeps.empty()) set("sweeps", quantease_args.sweeps);
  if (!quantease_args.init.empty()) set("init", quantease_args.init);
  if (!quantease_args.outlier_fraction.empty()) set("outlier_fraction", quantease_args.outlier_fraction);
  if (!quantease_args.outlier_structure.empty()) set("outlier_structure", quantease_args.outlier_structure);
  if (!quantease_args.relax_sweeps.empty()) set("relax_sweeps", quantease_args.relax_sweeps);
}

std::string format_seconds(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

int32_t print_progress(int64_t done, int64_t count, double elapsed, double eta, void*) {
  std::fprintf(stderr, "\rblock %lld/%lld  elapsed %s  ETA %s", static_cast<long long>(done),
               static_cast<long long>(count), format_seconds(elapsed).c_str(), format_seconds(eta).c_str());
  if (done == count) std::fprintf(stderr, "\n");
  std::fflush(stderr);
  return 0;
}

struct Model {
  sq_model* ptr = nullptr;
  ~Model() { sq_model_free(ptr); }
};
struct Job {
  sq_job* ptr = nullptr;
  ~Job() { sq_job_free(ptr); }
};

void run_quantize() {
  sqcli::Context ctx(args.device, args.threads, args.verbose);
  Model model;
  sqcli::check(sq_model_open(&model.ptr, ctx.ptr, args.model.c_str()));
  Job job;
  sqcli::check(sq_job_create(&job.ptr, model.ptr));
  auto set = [&](const char* key, const std::string& value) {
    sqcli::check(sq_job_set_option(job.ptr, key, value.c_str()));
  };
  set("method", args.method);
  set("bits", std::to_string(args.bits));
  set("group_size", std::to_string(args.group_size));
  set("nsamples", std::to_string(args.nsamples));
  set("seqlen", std::to_string(args.seqlen));
  set("seed", std::to_string(args.seed));
  set("act_order", args.act_order ? "true" : "false");
  set("sym", args.sym ? "true" : "false");
  set_quantease_options(set);
  if (args.resume || !args.checkpoint.empty()) {
    // --resume without --checkpoint-dir keeps the checkpoint beside the output, so a rerun finds it.
    const std::string dir = args.checkpoint.empty() ? args.out + ".checkpoint" : args.checkpoint;
    sqcli::check(sq_job_set_checkpoint_dir(job.ptr, dir.c_str(), args.resume ? 1 : 0));
  }
  if (args.calib.empty())
    throw sqcli::CliError(SQ_ERR_INVALID_ARGUMENT, "--calib FILE is required (a token file or text)");
  sqcli::check(sq_job_set_calibration_file(job.ptr, args.calib.c_str()));
  sqcli::check(sq_job_set_progress(job.ptr, print_progress, nullptr));
  sqcli::check(sq_job_run(job.ptr));
  sqcli::check(sq_job_write(job.ptr, args.out.c_str(), args.format.c_str()));
  std::fprintf(stderr, "wrote %s (%s)\n", args.out.c_str(), args.format.c_str());
}

void setup_quantize(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model, one transformer block at a time");
  cmd->add_option("model", args.model, "Model directory, .safetensors or .gguf file")->required();
  cmd->add_option("-o,--output", args.out, "Output directory (must not exist or be empty)")->required();
  cmd->add_option("--method", args.method, "rtn | gptq | leanquant | leanquant-affine | quantease")
      ->check(CLI::IsMember({"rtn", "gptq", "leanquant", "leanquant-affine", "quantease"}));
  cmd->add_option("--bits", args.bits, "Bits per weight: 2, 3, 4 or 8")->check(CLI::IsMember({2, 3, 4, 8}));
  cmd->add_option("--group-size", args.group_size, "Columns per group; -1 = per-channel");
  cmd->add_option("--calib", args.calib, "Calibration: token file (.npy, raw uint32 .bin) or UTF-8 text");
  cmd->add_option("--nsamples", args.nsamples, "Calibration samples");
  cmd->add_option("--seqlen", args.seqlen, "Tokens per calibration sample");
  cmd->add_option("--seed", args.seed, "Calibration sampling seed");
  cmd->add_option("--format", args.format, "Output format: gptq | lut | sq")->check(CLI::IsMember({"gptq", "lut", "sq"}));
  cmd->add_option("--threads", args.threads, "CPU threads (0 = all)");
  cmd->add_option("--device", args.device, "cpu or cuda:N");
  cmd->add_option("--checkpoint-dir", args.checkpoint, "Resume checkpoint directory (default OUT.checkpoint)");
  cmd->add_flag("--resume", args.resume, "Continue from the checkpoint of an interrupted run");
  cmd->add_flag("--act-order", args.act_order, "Quantize columns in order of decreasing Hessian diagonal");
  cmd->add_flag("--sym", args.sym, "Symmetric grids");
  cmd->add_flag("-v,--verbose", args.verbose, "Debug logging");
  add_quantease_options(cmd);
  cmd->callback(run_quantize);
}

const sqcli::Registrar reg("quantize", &setup_quantize);

}  // namespace
