// Which tensors form block i, and reading them as fp32 with their shapes checked against the config.
#include <sstream>

#include "model/llama_block.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

std::vector<float> read_checked(const WeightSource& src, const std::string& name, std::vector<int64_t> expected) {
  const size_t idx = src.require(name);
  const TensorDesc& d = src.tensors()[idx];
  if (d.shape != expected)
    throw_error(SQ_ERR_FORMAT, "tensor '", name, "' has shape ", shape_str(d.shape), ", the config implies ",
                shape_str(expected));
  std::vector<float> out(d.numel());
  src.read_f32(idx, out.data());
  return out;
}

}  // namespace

const std::vector<std::string>& linear_names(LinearGroup g) {
  static const std::vector<std::string> qkv{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
  static const std::vector<std::string> o{"self_attn.o_proj"};
  static const std::vector<std::string> gate_up{"mlp.gate_proj", "mlp.up_proj"};
  static const std::vector<std::string> down{"mlp.down_proj"};
  switch (g) {
    case LinearGroup::QKV: return qkv;
    case LinearGroup::O: return o;
    case LinearGroup::GateUp: return gate_up;
    case LinearGroup::Down: return down;
  }
  throw_error(SQ_ERR_INTERNAL, "unknown linear group ", int(g));
}

std::vector<float>& BlockWeights::linear(const std::string& name) {
  if (name == "self_attn.q_proj") return q;
  if (name == "self_attn.k_proj") return k;
  if (name == "self_attn.v_proj") return v;
  if (name == "self_attn.o_proj") return o;
  if (name == "mlp.gate_proj") return gate;
  if (name == "mlp.up_proj") return up;
  if (name == "mlp.down_proj") return down;
  throw_error(SQ_ERR_INVALID_ARGUMENT, "unknown linear layer '", name,
              "' (expected self_attn.{q,k,v,o}_proj or mlp.{gate,up,down}_proj)");
}

const std::vector<float>& BlockWeights::linear(const std::string& name) const {
  return const_cast<BlockWeights*>(this)->linear(name);
}

LinearWeight load_linear_weight(const WeightSource& src, const ModelConfig& cfg, int64_t layer, const std::string& name) {
  if (layer < 0 || layer >= cfg.num_hidden_layers)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "block index ", layer, " is out of range [0, ", cfg.num_hidden_layers, ")");
  const int64_t h = cfg.hidden_size, inter = cfg.intermediate_size;
  const int64_t q_out = cfg.num_attention_heads * cfg.head_dim, kv_out = cfg.num_key_value_heads * cfg.head_dim;
  std::vector<int64_t> shape;
  if (name == "self_attn.q_proj") shape = {q_out, h};
  else if (name == "self_attn.k_proj" || name == "self_attn.v_proj") shape = {kv_out, h};
  else if (name == "self_attn.o_proj") shape = {h, q_out};
  else if (name == "mlp.gate_proj" || name == "mlp.up_proj") shape = {inter, h};
  else if (name == "mlp.down_proj") shape = {h, inter};
  else
    throw_error(SQ_ERR_INVALID_ARGUMENT, "unknown linear layer '", name,
                "' (expected self_attn.{q,k,v,o}_proj or mlp.{gate,up,down}_proj)");
  LinearWeight w;
  w.rows = shape[0];
  w.cols = shape[1];
  w.data = read_checked(src, cfg.layer_prefix(layer) + name + ".weight", std::move(shape));
  return w;
}

BlockWeights load_block_weights(const WeightSource& src, const ModelConfig& cfg, int64_t layer) {
  if (layer < 0 || layer >= cfg.num_hidden_layers)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "block index ", layer, " is out of range [0, ", cfg.num_hidden_layers, ")");
  const std::string p = cfg.layer_prefix(layer);
  const int64_t h = cfg.hidden_size, inter = cfg.intermediate_size;
  const int64_t q_out = cfg.num_attention_heads * cfg.head_dim, kv_out = cfg.num_key_value_heads * cfg.head_dim;

  BlockWeights w;
  w.input_norm = read_checked(src, p + "input_layernorm.weight", {h});
  w.post_norm = read_checked(src, p + "post_attention_layernorm.weight", {h});
  w.q = read_checked(src, p + "self_attn.q_proj.weight", {q_out, h});
  w.k = read_checked(src, p + "self_attn.k_proj.weight", {kv_out, h});
  w.v = read_checked(src, p + "self_attn.v_proj.weight", {kv_out, h});
  w.o = read_checked(src, p + "self_attn.o_proj.weight", {h, q_out});
  w.gate = read_checked(src, p + "mlp.gate_proj.weight", {inter, h});
  w.up = read_checked(src, p + "mlp.up_proj.weight", {inter, h});
  w.down = read_checked(src, p + "mlp.down_proj.weight", {h, inter});
  if (cfg.attention_bias) {
    w.q_bias = read_checked(src, p + "self_attn.q_proj.bias", {q_out});
    w.k_bias = read_checked(src, p + "self_attn.k_proj.bias", {kv_out});
    w.v_bias = read_checked(src, p + "self_attn.v_proj.bias", {kv_out});
  }
  if (cfg.o_bias) w.o_bias = read_checked(src, p + "self_attn.o_proj.bias", {h});
  if (cfg.qk_norm) {
    w.q_norm = read_checked(src, p + "self_attn.q_norm.weight", {cfg.head_dim});
    w.k_norm = read_checked(src, p + "self_attn.k_norm.weight", {cfg.head_dim});
  }
  return w;
}

}  // namespace sq
