#include "pipeline/writer_common.hpp"

#include <filesystem>
#include <set>

#include "pipeline/bit_plan.hpp"
#include "pipeline/spool.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {
namespace fs = std::filesystem;

std::vector<std::string> spooled_prefixes(const WriteRequest& req) {
  std::vector<std::string> out;
  for (const auto& f : req.spool_files)
    for (const auto& [prefix, scheme] : list_sq_layers(f)) out.push_back(prefix);
  return out;
}

std::vector<PassThrough> pass_through_tensors(const WriteRequest& req, const std::vector<std::string>& quantized) {
  std::set<std::string> replaced;
  for (const auto& p : quantized) replaced.insert(p + ".weight");
  const std::string& torch_dtype = req.model.config ? req.model.config->torch_dtype : std::string();
  const DType fallback = torch_dtype == "bfloat16" ? SQ_DTYPE_BF16 : SQ_DTYPE_F16;
  std::vector<PassThrough> out;
  const auto& ts = req.model.weights->tensors();
  for (size_t i = 0; i < ts.size(); ++i) {
    if (replaced.count(ts[i].name)) continue;
    const DType d = (ts[i].dtype == SQ_DTYPE_F16 || ts[i].dtype == SQ_DTYPE_BF16) ? ts[i].dtype : fallback;
    out.push_back({i, d});
  }
  return out;
}

void declare_pass_through(SafetensorsWriter& w, const WriteRequest& req, const std::vector<PassThrough>& list) {
  for (const auto& p : list) {
    const auto& t = req.model.weights->tensors()[p.index];
    w.declare(t.name, p.out_dtype, t.shape);
  }
}

void write_pass_through(SafetensorsWriter& w, const WriteRequest& req, const std::vector<PassThrough>& list) {
  const WeightSource& src = *req.model.weights;
  for (const auto& p : list) {
    const auto& t = src.tensors()[p.index];
    const void* raw = src.raw_data(p.index);
    if (raw != nullptr && t.dtype == p.out_dtype) {
      w.write(t.name, raw, size_t(t.numel()) * dtype_size(t.dtype));
    } else {
      std::vector<float> buf(size_t(t.numel()));
      src.read_f32(p.index, buf.data());
      w.write_f32(t.name, buf.data(), buf.size());
    }
  }
}

void write_model_side_files(const std::string& dir, const WriteRequest& req, const nlohmann::json& quant_config,
                            const std::vector<PassThrough>& list) {
  nlohmann::json config = req.model.config ? req.model.config->raw : nlohmann::json::object();
  config["quantization_config"] = quant_config;
  bool any_bf16 = false;
  for (const auto& p : list) any_bf16 |= p.out_dtype == SQ_DTYPE_BF16;
  config["torch_dtype"] = any_bf16 ? "bfloat16" : "float16";
  write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
  if (!req.model.tokenizer_json.empty()) write_file_atomic(dir + "/tokenizer.json", req.model.tokenizer_json);
  for (const auto& side : req.model.side_files) {
    const fs::path from(side);  // already joined with the model directory (model_files.cpp)
    const std::string name = from.filename().string();
    if (name == "config.json" || name == "tokenizer.json" || name == "quantize_config.json") continue;
    write_file_atomic(dir + "/" + name, read_file(from.string()));
  }
}

void add_bit_plan(nlohmann::json& qc, const JobOptions& o, bool gptq_dynamic) {
  if (o.per_layer.empty()) return;
  nlohmann::json per_layer = nlohmann::json::object(), dynamic = nlohmann::json::object();
  for (const auto& [prefix, l] : o.per_layer) {
    nlohmann::json e = {{"bits", l.bits}, {"bits_per_weight", l.bits_per_weight}};
    if (l.rel_mse >= 0) e["rel_mse_rtn"] = l.rel_mse;
    if (l.alpha >= 0) e["alpha"] = l.alpha;
    per_layer[prefix] = e;
    if (l.bits != o.bits) {
      std::string pattern = "+:^";
      for (char c : prefix) {
        if (c == '.') pattern += '\\';
        pattern += c;
      }
      dynamic[pattern + "$"] = {{"bits", l.bits}};
    }
  }
  const PlanSummary s = summarize_plan(o);
  qc["per_layer"] = per_layer;
  qc["achieved_bpw"] = s.achieved_bpw;
  if (o.target_bpw > 0) qc["target_bpw"] = o.target_bpw;
  if (!o.plan_bits.empty()) qc["plan_bits"] = o.plan_bits;
  if (s.predicted_dppl > 0) qc["predicted_dppl"] = s.predicted_dppl;
  qc["bpw_formula"] = "bits + (16 + bits) / group_size over the linear layers";
  if (gptq_dynamic && !dynamic.empty()) qc["dynamic"] = dynamic;
}

}  // namespace sq
