#include "io/gguf_source.hpp"

#include <algorithm>
#include <set>

#include "io/gguf_dequant.hpp"
#include "io/gguf_names.hpp"
#include "io/gguf_reader.hpp"
#include "io/gguf_tokenizer.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

struct ArchInfo {
  const char* gguf_name;
  const char* hf_class;
  const char* model_type;
  bool permuted_qk;  // llama.cpp's converter interleaves RoPE halves only for Llama-style models
};

const ArchInfo kArchs[] = {
    {"llama", "LlamaForCausalLM", "llama", true},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", false},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", false},
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tensors old llama.cpp files carry that have no Hugging Face counterpart and hold nothing the config lacks.
bool ignorable_tensor(const std::string& name) {
  return ends_with(name, ".attn_rot_embd") || ends_with(name, ".attn_rot_embd.weight");
}

struct Entry {
  size_t gguf_index = 0;
  size_t permute_heads = 0;  // 0: rows stored in HF order
};

class GgufWeightSource final : public WeightSource {
 public:
  GgufWeightSource(std::shared_ptr<const GgufFile> file, std::vector<TensorDesc> descs, std::vector<Entry> entries)
      : file_(std::move(file)), descs_(std::move(descs)), entries_(std::move(entries)) {}

  const char* format() const override { return "gguf"; }
  const std::vector<TensorDesc>& tensors() const override { return descs_; }

  void read_f32(size_t index, float* dst) const override {
    check_index(index);
    const Entry& e = entries_[index];
    const GgufTensorInfo& info = file_->tensors()[e.gguf_index];
    const uint8_t* src = file_->tensor_data(e.gguf_index);
    if (e.permute_heads == 0) {
      gguf_dequantize(info.dtype, src, dst, size_t(info.numel()));
      return;
    }
    // Rows are whole blocks, so each HF row is decoded straight from its GGUF row: no scratch copy.
    const size_t cols = size_t(info.ne[0]);
    const size_t rows = size_t(info.numel() / info.ne[0]);
    const size_t head_dim = rows / e.permute_heads;
    const size_t row_bytes = size_t(info.nbytes / rows);
    for (size_t r = 0; r < rows; ++r)
      gguf_dequantize(info.dtype, src + gguf_row_of_hf_row(r, head_dim) * row_bytes, dst + r * cols, cols);
  }

  const void* raw_data(size_t index) const override {
    check_index(index);
    const Entry& e = entries_[index];
    if (e.permute_heads != 0 || !dtype_is_float(descs_[index].dtype)) return nullptr;
    return file_->tensor_data(e.gguf_index);
  }

 private:
  void check_index(size_t index) const {
    if (index >= descs_.size())
      throw_error(SQ_ERR_INVALID_ARGUMENT, "file '", file_->path(), "': tensor index ", index, " out of range (",
                  descs_.size(), " tensors)");
  }

  std::shared_ptr<const GgufFile> file_;
  std::vector<TensorDesc> descs_;
  std::vector<Entry> entries_;
};

const ArchInfo& find_arch(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture", "");
  if (arch.empty())
    throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': metadata key 'general.architecture' is missing");
  for (const ArchInfo& a : kArchs)
    if (arch == a.gguf_name) return a;
  throw_error(SQ_ERR_UNSUPPORTED, "file '", f.path(), "': general.architecture '", arch,
              "' is not supported (supported: llama, qwen2, qwen3)");
}

uint64_t require_u64(const GgufFile& f, const std::string& key) {
  if (!f.has(key)) throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': metadata key '", key, "' is missing");
  const uint64_t v = f.get_u64(key, 0);
  if (v == 0 || v > (uint64_t(1) << 40))
    throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': metadata key '", key, "' has the implausible value ", v);
  return v;
}

// HF torch_dtype: the float type the unquantized model most likely had. Quantized storage cannot say,
// and fp16 is what llama.cpp's converter defaults to.
std::string guess_torch_dtype(const std::vector<TensorDesc>& descs) {
  bool any_bf16 = false, all_f32 = true;
  for (const TensorDesc& d : descs) {
    if (d.dtype == SQ_DTYPE_BF16) any_bf16 = true;
    if (d.dtype != SQ_DTYPE_F32) all_f32 = false;
    if (d.dtype != SQ_DTYPE_F32 && d.dtype != SQ_DTYPE_BF16) return "float16";
  }
  if (all_f32) return "float32";
  return any_bf16 ? "bfloat16" : "float16";
}

nlohmann::json build_config(const GgufFile& f, const ArchInfo& arch, const std::vector<TensorDesc>& descs,
                            const WeightSource& ws, uint64_t n_head, uint64_t n_head_kv) {
  const std::string a = arch.gguf_name;
  nlohmann::json c;
  c["architectures"] = nlohmann::json::array({arch.hf_class});
  c["model_type"] = arch.model_type;
  const uint64_t hidden = require_u64(f, a + ".embedding_length");
  c["hidden_size"] = hidden;
  c["intermediate_size"] = require_u64(f, a + ".feed_forward_length");
  c["num_hidden_layers"] = require_u64(f, a + ".block_count");
  c["num_attention_heads"] = n_head;
  c["num_key_value_heads"] = n_head_kv;
  uint64_t head_dim = hidden / n_head;
  if (f.has(a + ".attention.key_length")) head_dim = require_u64(f, a + ".attention.key_length");
  else if (f.has(a + ".rope.dimension_count")) head_dim = require_u64(f, a + ".rope.dimension_count");
  c["head_dim"] = head_dim;
  c["rms_norm_eps"] = f.get_f64(a + ".attention.layer_norm_rms_epsilon", 1e-6);
  c["rope_theta"] = f.get_f64(a + ".rope.freq_base", 10000.0);
  c["max_position_embeddings"] = f.get_u64(a + ".context_length", 2048);
  c["hidden_act"] = "silu";

  uint64_t vocab = f.get_u64(a + ".vocab_size", 0);
  if (vocab == 0) {
    if (const auto* tokens = f.get_string_array("tokenizer.ggml.tokens")) vocab = tokens->size();
  }
  const size_t embed = ws.find("model.embed_tokens.weight");
  if (vocab == 0 && embed != SIZE_MAX) vocab = uint64_t(descs[embed].shape[0]);
  c["vocab_size"] = vocab;

  c["tie_word_embeddings"] = ws.find("lm_head.weight") == SIZE_MAX;
  c["attention_bias"] = ws.find("model.layers.0.self_attn.q_proj.bias") != SIZE_MAX;
  c["mlp_bias"] = false;
  c["torch_dtype"] = guess_torch_dtype(descs);

  const std::string scaling = f.get_string(a + ".rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = f.get_f64(a + ".rope.scaling.factor", 1.0);
    c["rope_scaling"] = {{"type", "linear"}, {"rope_type", "linear"}, {"factor", factor}};
  } else if (scaling != "none") {
    throw_error(SQ_ERR_UNSUPPORTED, "file '", f.path(), "': rope scaling type '", scaling,
                "' is not supported (supported: none, linear)");
  }

  for (const char* id : {"bos", "eos", "padding", "unknown"}) {
    const std::string key = std::string("tokenizer.ggml.") + id + "_token_id";
    if (!f.has(key)) continue;
    const std::string field = std::string(id) == "padding" ? "pad" : std::string(id) == "unknown" ? "unk" : id;
    if (field == "unk") continue;  // not a config.json field
    c[field + "_token_id"] = f.get_u64(key, 0);
  }
  return c;
}

}  // namespace

GgufModel open_gguf_model(const std::string& path) {
  auto file = std::make_shared<const GgufFile>(path);
  const GgufFile& f = *file;
  const ArchInfo& arch = find_arch(f);
  const std::string a = arch.gguf_name;
  const uint64_t n_head = require_u64(f, a + ".attention.head_count");
  const uint64_t n_head_kv = f.has(a + ".attention.head_count_kv") ? require_u64(f, a + ".attention.head_count_kv")
                                                                    : n_head;

  std::vector<TensorDesc> descs;
  std::vector<Entry> entries;
  std::set<std::string> seen;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    if (t.name == "rope_freqs.weight")
      throw_error(SQ_ERR_UNSUPPORTED, "file '", path, "': tensor 'rope_freqs.weight' (Llama-3.1 style rope ",
                  "scaling) is not supported yet");
    if (ignorable_tensor(t.name)) continue;
    const std::string hf = gguf_to_hf_tensor_name(t.name);
    if (hf.empty())
      throw_error(SQ_ERR_UNSUPPORTED, "file '", path, "': tensor '", t.name, "' has no known Hugging Face name for ",
                  "architecture '", a, "'");
    if (!seen.insert(hf).second)
      throw_error(SQ_ERR_FORMAT, "file '", path, "': two tensors map to the Hugging Face name '", hf, "'");
    TensorDesc d;
    d.name = hf;
    d.dtype = t.dtype;
    for (size_t k = t.ne.size(); k-- > 0;) d.shape.push_back(int64_t(t.ne[k]));
    Entry e;
    e.gguf_index = i;
    const bool is_q = ends_with(hf, ".self_attn.q_proj.weight");
    const bool is_k = ends_with(hf, ".self_attn.k_proj.weight");
    if (arch.permuted_qk && (is_q || is_k)) {
      e.permute_heads = size_t(is_q ? n_head : n_head_kv);
      const uint64_t rows = t.numel() / t.ne[0];
      if (t.ne.size() != 2 || rows % e.permute_heads != 0 || (rows / e.permute_heads) % 2 != 0)
        throw_error(SQ_ERR_FORMAT, "file '", path, "': tensor '", t.name, "' has ", rows, " rows, which do not split ",
                    "into ", e.permute_heads, " heads of an even size");
    }
    descs.push_back(std::move(d));
    entries.push_back(e);
  }

  auto source = std::make_unique<GgufWeightSource>(file, std::move(descs), std::move(entries));
  GgufModel model;
  model.config = build_config(f, arch, source->tensors(), *source, n_head, n_head_kv);
  GgufTokenizer tok = build_tokenizer_json(f);
  model.tokenizer_json = std::move(tok.json);
  model.tokenizer_note = std::move(tok.note);
  model.weights = std::move(source);
  return model;
}

}  // namespace sq
