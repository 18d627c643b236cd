// The Hugging Face config.json of a Llama-family model, normalized and validated.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sq {

enum class Arch { Llama, Mistral, Qwen2, Qwen3 };

struct RopeScaling {  // "llama3" rope scaling (Llama 3.1+); other types are refused
  std::string type;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  Arch arch = Arch::Llama;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless given
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (Qwen2; Llama when "attention_bias": true)
  bool o_bias = false;          // o_proj bias (Llama / Qwen3 with "attention_bias": true; never Qwen2)
  bool qk_norm = false;         // per-head RMSNorm on q and k (Qwen3)
  int64_t sliding_window = 0;   // Mistral: a query attends to the last `sliding_window` keys; 0 = unlimited
  std::string torch_dtype;      // "float16", "bfloat16", "float32" or ""
  nlohmann::json raw;           // the original document, for writing outputs

  // Tensor names of block i (Hugging Face convention).
  std::string layer_prefix(int64_t i) const;
};

// Parse and validate. `source` names the file in error messages. Unknown architectures give
// SQ_ERR_UNSUPPORTED naming the architecture and the supported list.
ModelConfig parse_model_config(const nlohmann::json& doc, const std::string& source);
ModelConfig load_model_config(const std::string& path);
const std::vector<std::string>& supported_architectures();

}  // namespace sq
