#include "io/gguf_names.hpp"

#include <cctype>
#include <utility>

namespace sq {
namespace {

const std::pair<const char*, const char*> kTopLevel[] = {
    {"token_embd", "model.embed_tokens"},
    {"output_norm", "model.norm"},
    {"output", "lm_head"},
};

const std::pair<const char*, const char*> kPerBlock[] = {
    {"attn_norm", "input_layernorm"},
    {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
};

// Splits "stem.weight" / "stem.bias" into stem and suffix.
bool split_suffix(const std::string& name, std::string& stem, std::string& suffix) {
  for (const char* s : {".weight", ".bias"}) {
    const std::string sfx(s);
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      stem = name.substr(0, name.size() - sfx.size());
      suffix = sfx;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string gguf_to_hf_tensor_name(const std::string& gguf_name) {
  std::string stem, suffix;
  if (!split_suffix(gguf_name, stem, suffix)) return "";
  for (const auto& [from, to] : kTopLevel)
    if (stem == from) return std::string(to) + suffix;

  static const std::string kBlk = "blk.";
  if (stem.compare(0, kBlk.size(), kBlk) != 0) return "";
  size_t p = kBlk.size();
  const size_t digits_begin = p;
  while (p < stem.size() && std::isdigit(static_cast<unsigned char>(stem[p]))) ++p;
  if (p == digits_begin || p - digits_begin > 6 || p >= stem.size() || stem[p] != '.') return "";
  if (stem[digits_begin] == '0' && p - digits_begin > 1) return "";  // no leading zeros
  const std::string layer = stem.substr(digits_begin, p - digits_begin);
  const std::string part = stem.substr(p + 1);
  for (const auto& [from, to] : kPerBlock)
    if (part == from) return "model.layers." + layer + "." + to + suffix;
  return "";
}

}  // namespace sq
