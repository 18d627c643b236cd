// Pieces every output format shares: which source tensors pass through unquantized (and in which float
// dtype), config.json with a quantization_config, and the tokenizer/side files.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/model_files.hpp"
#include "io/safetensors_writer.hpp"
#include "pipeline/job_options.hpp"

namespace sq {

struct WriteRequest {
  const ModelFiles& model;
  const JobOptions& options;
  std::vector<std::string> spool_files;  // one per block, in block order
};

// Source tensors that are not replaced by a quantized layer, with the dtype each is written in
// (F16/BF16 kept; anything else becomes the model's torch_dtype, bf16 or else fp16).
struct PassThrough {
  size_t index;
  DType out_dtype;
};
std::vector<PassThrough> pass_through_tensors(const WriteRequest& req, const std::vector<std::string>& quantized_prefixes);
void declare_pass_through(SafetensorsWriter& w, const WriteRequest& req, const std::vector<PassThrough>& list);
void write_pass_through(SafetensorsWriter& w, const WriteRequest& req, const std::vector<PassThrough>& list);

// config.json (the source's, with quantization_config set and torch_dtype matching the float tensors),
// tokenizer.json and side files, written into `dir`.
void write_model_side_files(const std::string& dir, const WriteRequest& req, const nlohmann::json& quant_config,
                            const std::vector<PassThrough>& list);

// Per-layer bits of a job with a bit plan (JobOptions::per_layer), recorded in quantization_config:
//   "per_layer": {prefix: {"bits", "bits_per_weight", "rel_mse_rtn", "alpha"}}, "achieved_bpw", "target_bpw",
//   "predicted_dppl"; with `gptq_dynamic`, also GPTQModel's "dynamic": {"+:^<prefix>$": {"bits": b}} for the
//   layers whose bits differ from "bits". No-op for uniform jobs.
void add_bit_plan(nlohmann::json& quant_config, const JobOptions& options, bool gptq_dynamic);

// Every quantized layer prefix of the spool, in spool order.
std::vector<std::string> spooled_prefixes(const WriteRequest& req);

}  // namespace sq
