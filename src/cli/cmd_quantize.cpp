// `streamquant quantize MODEL -o OUT ...`: run a quantization job and write its output, with a progress
// line on stderr. Uses the library only through the C API.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "cli/cli_common.hpp"

namespace {

struct QuantizeArgs {
  std::string model, out, method = "gptq", calib, format = "gptq", device = "cpu", checkpoint, sensitivity, bit_plan, plan_bits;
  std::string gpu_mem_budget;  // empty: the library's default (32 GiB)
  std::string gpu_matmul = "fp32";
  double target_bpw = 0.0;
  double damp = std::nan("");  // NaN = the library's default (0.01 of the mean Hessian diagonal)
  std::string bits = "4";  // integer, or a fractional average for claq (2.12)
  int threads = 0;
  // CLAQ (--method claq); NaN = the library's default.
  double outlier_threshold = std::nan(""), reserve_fraction = std::nan(""), reserve_fraction_rest = std::nan("");
  int64_t group_size = 128, nsamples = 128, seqlen = 2048, seed = 0;
  bool resume = false, act_order = false, static_groups = false, sym = false, verbose = false;
  // HIGGS
  int64_t hadamard_size = 512, rotation_seed = 0;
  int grid_dim = 0;
  bool random_signs = false;
  bool no_pass_checkpoints = false;
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
  if (!args.gpu_mem_budget.empty())
    sqcli::check(sq_context_set_memory_budget(ctx.ptr, sqcli::parse_size(args.gpu_mem_budget, "--gpu-mem-budget")));
  sqcli::check(sq_context_set_matmul_precision(ctx.ptr, args.gpu_matmul.c_str()));
  Model model;
  sqcli::check(sq_model_open(&model.ptr, ctx.ptr, args.model.c_str()));
  Job job;
  sqcli::check(sq_job_create(&job.ptr, model.ptr));
  auto set = [&](const char* key, const std::string& value) {
    sqcli::check(sq_job_set_option(job.ptr, key, value.c_str()));
  };
  set("method", args.method);
  set("bits", args.bits);
  set("group_size", std::to_string(args.group_size));
  set("nsamples", std::to_string(args.nsamples));
  set("seqlen", std::to_string(args.seqlen));
  set("seed", std::to_string(args.seed));
  set("act_order", args.act_order ? "true" : "false");
  if (args.static_groups) set("static_groups", "true");
  set("sym", args.sym ? "true" : "false");
  if (args.target_bpw > 0) set("target_bpw", std::to_string(args.target_bpw));
  if (!args.sensitivity.empty()) set("sensitivity_file", args.sensitivity);
  if (!args.bit_plan.empty()) set("bit_plan_file", args.bit_plan);
  if (!args.plan_bits.empty()) set("plan_bits", args.plan_bits);
  set("hadamard_size", std::to_string(args.hadamard_size));
  set("grid_dim", std::to_string(args.grid_dim));
  set("random_signs", args.random_signs ? "true" : "false");
  if (args.no_pass_checkpoints) set("pass_checkpoints", "false");
  set("rotation_seed", std::to_string(args.rotation_seed));
  set_quantease_options(set);
  // Numeric options given only when set on the command line (NaN: the library's default).
  const std::pair<const char*, double> optional_numbers[] = {{"damp", args.damp},
                                                             {"outlier_threshold", args.outlier_threshold},
                                                             {"reserve_fraction", args.reserve_fraction},
                                                             {"reserve_fraction_rest", args.reserve_fraction_rest}};
  for (const auto& [key, value] : optional_numbers) {
    if (std::isnan(value)) continue;
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", value);
    set(key, text);
  }
  if (args.resume || !args.checkpoint.empty()) {
    // --resume without --checkpoint-dir keeps the checkpoint beside the output, so a rerun finds it.
    const std::string dir = args.checkpoint.empty() ? args.out + ".checkpoint" : args.checkpoint;
    sqcli::check(sq_job_set_checkpoint_dir(job.ptr, dir.c_str(), args.resume ? 1 : 0));
  }
  // Without --calib, methods that need calibration fail at the first step, naming the method; data-free
  // methods (rtn, higgs) need none.
  if (!args.calib.empty()) sqcli::check(sq_job_set_calibration_file(job.ptr, args.calib.c_str()));
  sqcli::check(sq_job_set_progress(job.ptr, print_progress, nullptr));
  sqcli::check(sq_job_run(job.ptr));
  sqcli::check(sq_job_write(job.ptr, args.out.c_str(), args.format.c_str()));
  int64_t weights = 0, bytes = 0;
  double bpw = 0.0;
  sqcli::check(sq_job_output_stats(job.ptr, &weights, &bytes, &bpw));
  std::fprintf(stderr, "wrote %s (%s)\n", args.out.c_str(), args.format.c_str());
  std::fprintf(stderr, "stage seconds: %s\n", sq_job_stage_seconds_json(job.ptr));
  if (args.device != "cpu")
    std::fprintf(stderr, "peak device memory held: %.3f GiB\n", double(sq_context_device_memory_peak(ctx.ptr)) / double(1 << 30));
  // stdout, one line a script can parse: every stored byte of the quantized layers per weight they replace.
  std::printf("effective bits per weight: %.4f (%lld bytes for %lld quantized weights)\n", bpw, (long long)bytes,
              (long long)weights);
}

void setup_quantize(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model, one transformer block at a time");
  cmd->add_option("model", args.model, "Model directory, .safetensors or .gguf file")->required();
  cmd->add_option("-o,--output", args.out, "Output directory (must not exist or be empty)")->required();
  cmd->add_option("--method", args.method,
                  "rtn | gptq | leanquant | leanquant-affine | quantease | claq | higgs | higgs-gptq")
      ->check(CLI::IsMember({"rtn", "gptq", "leanquant", "leanquant-affine", "quantease", "claq", "higgs", "higgs-gptq"}));
  // Checked by the library: 2, 3, 4 or 8 for every method; claq also takes a fractional average in (2, 4).
  cmd->add_option("--bits", args.bits, "Bits per weight: 2, 3, 4 or 8; claq: also a fractional average such as 2.12");
  cmd->add_option("--group-size", args.group_size, "Columns per group; -1 = per-channel");
  cmd->add_option("--target-bpw", args.target_bpw,
                  "Dynamic bit allocation: average bits per weight over the linear layers (with --sensitivity)");
  cmd->add_option("--sensitivity", args.sensitivity, "Per-layer alphas from calibrate-sensitivity (for --target-bpw)");
  cmd->add_option("--bit-plan", args.bit_plan, "Explicit per-layer bits: JSON {\"layer prefix\": bits, ...}");
  cmd->add_option("--plan-bits", args.plan_bits,
                  "Bit widths a plan may use, comma-separated (e.g. 3,4,8; default: all the method offers)");
  cmd->add_option("--calib", args.calib,
                  "Calibration: token file (.npy, raw uint32 .bin) or UTF-8 text (not needed by rtn and higgs)");
  cmd->add_option("--nsamples", args.nsamples, "Calibration samples");
  cmd->add_option("--seqlen", args.seqlen, "Tokens per calibration sample");
  cmd->add_option("--seed", args.seed, "Calibration sampling seed");
  cmd->add_option("--format", args.format, "Output format: gptq | lut | sq")->check(CLI::IsMember({"gptq", "lut", "sq"}));
  cmd->add_option("--threads", args.threads, "CPU threads (0 = all)");
  cmd->add_option("--device", args.device, "cpu or cuda:N");
  cmd->add_option("--gpu-mem-budget", args.gpu_mem_budget,
                  "Most device memory the CUDA backend may hold, e.g. 24G (default 32G); exceeding it is an error");
  cmd->add_option("--gpu-matmul", args.gpu_matmul,
                  "GPU calibration forward and Hessians: fp32 (default, matches the CPU), tf32 (tensor cores, "
                  "faster) or bf16 (forward GEMM inputs rounded to bf16, Hessians in tf32; fastest)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  cmd->add_option("--checkpoint-dir", args.checkpoint, "Resume checkpoint directory (default OUT.checkpoint)");
  cmd->add_flag("--resume", args.resume, "Continue from the checkpoint of an interrupted run");
  cmd->add_flag("--no-pass-checkpoints", args.no_pass_checkpoints,
                "Start every calibration pass at the block's input instead of where the last one left its attention "
                "output or residual: saves one fp32 copy of the activations, costs forward time; same results");
  cmd->add_option("--damp", args.damp,
                  "Hessian damping: this fraction of its mean diagonal is added to the diagonal (default 0.01; "
                  "every method that uses calibration)");
  cmd->add_flag("--act-order", args.act_order, "Quantize columns in order of decreasing Hessian diagonal");
  cmd->add_flag("--static-groups", args.static_groups,
                "Fit every group's grid before the sweep, on the original column order (GPTQ static_groups)");
  cmd->add_flag("--sym", args.sym, "Symmetric grids");
  cmd->add_option("--hadamard-size", args.hadamard_size, "HIGGS: Hadamard rotation block (power of two)");
  cmd->add_option("--grid-dim", args.grid_dim, "HIGGS: Gaussian grid dimension 1 or 2 (0 = higgs 2, higgs-gptq 1)")
      ->check(CLI::IsMember({0, 1, 2}));
  cmd->add_flag("--random-signs", args.random_signs, "HIGGS: randomized Hadamard rotation (signs from --rotation-seed)");
  cmd->add_option("--rotation-seed", args.rotation_seed, "HIGGS: seed of the random signs");
  cmd->add_flag("-v,--verbose", args.verbose, "Debug logging");
  add_quantease_options(cmd);
  // CLAQ
  cmd->add_option("--outlier-threshold", args.outlier_threshold,
                  "claq: |w| >= T * mean|W| counts as an outlier when ranking columns (default 13)");
  cmd->add_option("--reserve-fraction", args.reserve_fraction,
                  "claq: fraction per side kept in full precision in the top 10% columns (default 0.014 for fractional bits, else 0)");
  cmd->add_option("--reserve-fraction-rest", args.reserve_fraction_rest,
                  "claq: the same for the other columns (default 0.004 for fractional bits, else 0)");
  cmd->callback(run_quantize);
}

const sqcli::Registrar reg("quantize", &setup_quantize);

}  // namespace
