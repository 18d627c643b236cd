// One decoder block: pre-norm attention and pre-norm SwiGLU MLP, each added to the residual stream.
#include <algorithm>
#include <vector>

#include "model/llama_block.hpp"
#include "model/ops.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// Reports a group's input to the capture hook; true when the pass should stop there.
bool capture_and_check(const CaptureFn* capture, std::optional<LinearGroup> stop_after, LinearGroup g,
                       const float* x, int64_t tokens, int64_t in_features) {
  if (capture != nullptr && *capture) (*capture)(g, x, tokens, in_features);
  return stop_after && *stop_after == g;
}

}  // namespace

int64_t checkpoint_floats(const ModelConfig& cfg, int64_t tokens) {
  return tokens * std::max(cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim);
}

void check_pass_range(const PassCheckpoint* checkpoint, std::optional<LinearGroup> stop_after) {
  const BlockPoint load = checkpoint ? checkpoint->load : BlockPoint::Input;
  if (!stop_after || load == BlockPoint::Input) return;
  // QKV's input is computed before either checkpoint, O's before the residual.
  if (*stop_after == LinearGroup::QKV || (*stop_after == LinearGroup::O && load == BlockPoint::Residual))
    throw_error(SQ_ERR_INTERNAL, "block forward: a pass started past the linear group it stops at");
}

void block_forward(Backend& be, const ModelConfig& cfg, const BlockWeights& w, const RopeTables& rope, float* hidden,
                   int64_t tokens, const CaptureFn* capture, std::optional<LinearGroup> stop_after,
                   const PassCheckpoint* checkpoint) {
  if (tokens <= 0) return;
  check_pass_range(checkpoint, stop_after);
  if (tokens > rope.max_tokens)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "block forward: ", tokens, " tokens exceed the RoPE tables' ",
                rope.max_tokens, " positions");
  if (rope.half * 2 != cfg.head_dim)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "block forward: RoPE tables are for head_dim ", rope.half * 2,
                ", the config has ", cfg.head_dim);
  const int64_t h = cfg.hidden_size, hd = cfg.head_dim;
  const int64_t nh = cfg.num_attention_heads, nkv = cfg.num_key_value_heads;
  const int64_t q_dim = nh * hd, kv_dim = nkv * hd, inter = cfg.intermediate_size;
  const double eps = cfg.rms_norm_eps;

  const BlockPoint load = checkpoint ? checkpoint->load : BlockPoint::Input;
  const BlockPoint save = checkpoint ? checkpoint->save : BlockPoint::Input;
  std::vector<float> x(size_t(tokens * h));
  if (load == BlockPoint::Residual) {
    std::copy(checkpoint->data, checkpoint->data + tokens * h, hidden);
  } else {
    std::vector<float> attn;
    const float* a = checkpoint ? checkpoint->data : nullptr;  // the AttentionOutput checkpoint
    if (load == BlockPoint::Input) {
      // ---- attention ----
      ops::rms_norm(be, hidden, w.input_norm.data(), tokens, h, eps, x.data());
      if (capture_and_check(capture, stop_after, LinearGroup::QKV, x.data(), tokens, h)) return;

      std::vector<float> q(size_t(tokens * q_dim)), k(size_t(tokens * kv_dim)), v(size_t(tokens * kv_dim));
      ops::linear(be, x.data(), tokens, h, w.q, q_dim, w.q_bias, q.data());
      ops::linear(be, x.data(), tokens, h, w.k, kv_dim, w.k_bias, k.data());
      ops::linear(be, x.data(), tokens, h, w.v, kv_dim, w.v_bias, v.data());
      if (cfg.qk_norm) {  // Qwen3: RMSNorm over each head's vector, before RoPE
        ops::rms_norm(be, q.data(), w.q_norm.data(), tokens * nh, hd, eps, q.data());
        ops::rms_norm(be, k.data(), w.k_norm.data(), tokens * nkv, hd, eps, k.data());
      }
      ops::apply_rope(be, rope, q.data(), tokens, nh, hd);
      ops::apply_rope(be, rope, k.data(), tokens, nkv, hd);

      attn.resize(size_t(tokens * q_dim));
      ops::causal_attention(be, q.data(), k.data(), v.data(), tokens, nh, nkv, hd, cfg.sliding_window, attn.data());
      if (save == BlockPoint::AttentionOutput) std::copy(attn.begin(), attn.end(), checkpoint->data);
      a = attn.data();
    }
    if (capture_and_check(capture, stop_after, LinearGroup::O, a, tokens, q_dim)) return;
    ops::linear(be, a, tokens, q_dim, w.o, h, w.o_bias, hidden, /*accumulate=*/true);
    if (save == BlockPoint::Residual) std::copy(hidden, hidden + tokens * h, checkpoint->data);
  }

  // ---- MLP ----
  ops::rms_norm(be, hidden, w.post_norm.data(), tokens, h, eps, x.data());
  if (capture_and_check(capture, stop_after, LinearGroup::GateUp, x.data(), tokens, h)) return;
  std::vector<float> gate(size_t(tokens * inter)), up(size_t(tokens * inter));
  const std::vector<float> no_bias;
  ops::linear(be, x.data(), tokens, h, w.gate, inter, no_bias, gate.data());
  ops::linear(be, x.data(), tokens, h, w.up, inter, no_bias, up.data());
  ops::silu_mul(be, gate.data(), up.data(), tokens * inter);
  up = {};
  if (capture_and_check(capture, stop_after, LinearGroup::Down, gate.data(), tokens, inter)) return;
  ops::linear(be, gate.data(), tokens, inter, w.down, h, no_bias, hidden, /*accumulate=*/true);
}

}  // namespace sq
