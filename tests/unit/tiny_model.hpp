// Test fixture: a random Llama-family model held in memory behind the WeightSource interface.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "io/model_config.hpp"
#include "io/weight_source.hpp"

namespace sqtest {

class MemorySource final : public sq::WeightSource {
 public:
  const char* format() const override { return "memory"; }
  const std::vector<sq::TensorDesc>& tensors() const override { return descs_; }
  void read_f32(size_t index, float* dst) const override {
    std::copy(data_[index].begin(), data_[index].end(), dst);
  }
  const void* raw_data(size_t index) const override { return data_[index].data(); }

  void add(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    sq::TensorDesc d;
    d.name = name;
    d.dtype = SQ_DTYPE_F32;
    d.shape = std::move(shape);
    descs_.push_back(d);
    data_.push_back(std::move(values));
  }
  std::vector<float>& data(const std::string& name) { return data_[require(name)]; }

 private:
  std::vector<sq::TensorDesc> descs_;
  std::vector<std::vector<float>> data_;
};

inline sq::ModelConfig tiny_config(const std::string& arch = "LlamaForCausalLM", int64_t heads = 4,
                                   int64_t kv_heads = 2) {
  nlohmann::json doc{{"architectures", {arch}},
                     {"hidden_size", 32},
                     {"intermediate_size", 48},
                     {"num_hidden_layers", 2},
                     {"num_attention_heads", heads},
                     {"num_key_value_heads", kv_heads},
                     {"head_dim", 8},
                     {"vocab_size", 50},
                     {"rms_norm_eps", 1e-5},
                     {"sliding_window", nullptr}};
  return sq::parse_model_config(doc, "tiny/config.json");
}

// Every tensor the config asks for, random normal * scale (norm weights around 1).
inline MemorySource make_tiny_model(const sq::ModelConfig& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto rnd = [&](int64_t n, float scale, float offset = 0.0f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = offset + scale * normal(rng);
    return v;
  };
  const int64_t h = c.hidden_size, inter = c.intermediate_size, hd = c.head_dim;
  const int64_t qd = c.num_attention_heads * hd, kvd = c.num_key_value_heads * hd;
  MemorySource src;
  src.add("model.embed_tokens.weight", {c.vocab_size, h}, rnd(c.vocab_size * h, 1.0f));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = c.layer_prefix(i);
    src.add(p + "input_layernorm.weight", {h}, rnd(h, 0.1f, 1.0f));
    src.add(p + "post_attention_layernorm.weight", {h}, rnd(h, 0.1f, 1.0f));
    src.add(p + "self_attn.q_proj.weight", {qd, h}, rnd(qd * h, 0.2f));
    src.add(p + "self_attn.k_proj.weight", {kvd, h}, rnd(kvd * h, 0.2f));
    src.add(p + "self_attn.v_proj.weight", {kvd, h}, rnd(kvd * h, 0.2f));
    src.add(p + "self_attn.o_proj.weight", {h, qd}, rnd(h * qd, 0.2f));
    src.add(p + "mlp.gate_proj.weight", {inter, h}, rnd(inter * h, 0.2f));
    src.add(p + "mlp.up_proj.weight", {inter, h}, rnd(inter * h, 0.2f));
    src.add(p + "mlp.down_proj.weight", {h, inter}, rnd(h * inter, 0.2f));
    if (c.attention_bias) {
      src.add(p + "self_attn.q_proj.bias", {qd}, rnd(qd, 0.3f));
      src.add(p + "self_attn.k_proj.bias", {kvd}, rnd(kvd, 0.3f));
      src.add(p + "self_attn.v_proj.bias", {kvd}, rnd(kvd, 0.3f));
    }
    if (c.o_bias) src.add(p + "self_attn.o_proj.bias", {h}, rnd(h, 0.3f));
    if (c.qk_norm) {
      src.add(p + "self_attn.q_norm.weight", {hd}, rnd(hd, 0.1f, 1.0f));
      src.add(p + "self_attn.k_norm.weight", {hd}, rnd(hd, 0.1f, 1.0f));
    }
  }
  src.add("model.norm.weight", {h}, rnd(h, 0.1f, 1.0f));
  if (!c.tie_word_embeddings) src.add("lm_head.weight", {c.vocab_size, h}, rnd(c.vocab_size * h, 0.3f));
  return src;
}

inline std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, int32_t(vocab - 1));
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = pick(rng);
  return t;
}

}  // namespace sqtest
