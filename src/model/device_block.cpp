#include "model/device_block.hpp"

#include <algorithm>
#include <cmath>

#include "backend/device_api.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr size_t kF = sizeof(float);

// A sequence's scratch (Buffers) but its score matrices.
uint64_t scratch_bytes(const ModelConfig& cfg, int64_t tokens) {
  return DeviceMemory::rounded(uint64_t(tokens) * kF) *
         uint64_t(2 * cfg.hidden_size + 2 * cfg.num_attention_heads * cfg.head_dim +
                  2 * cfg.num_key_value_heads * cfg.head_dim + 2 * cfg.intermediate_size + cfg.head_dim);
}

// Score matrices of this many query heads (tokens x tokens each) are computed in one batched GEMM: a whole
// GQA group at once when a quarter of the free budget holds it (the rest is left for the Hessian and the
// quantizer), otherwise fewer, down to one head at a time.
int64_t heads_per_score_batch(const DeviceMemory& mem, int64_t group, int64_t tokens, uint64_t reserve) {
  const uint64_t per_head = DeviceMemory::rounded(uint64_t(tokens) * uint64_t(tokens) * kF);
  const uint64_t avail = mem.available() > reserve ? (mem.available() - reserve) / 4 : 0;
  return std::max<int64_t>(1, std::min<int64_t>(group, int64_t(avail / per_head)));
}

// Reduced-precision GEMM inputs for the duration of one forward pass (and the Hessian accumulations it feeds)
// when the backend was asked for them; the device lock is held throughout, so no other work sees the mode.
class MatmulScope {
 public:
  MatmulScope(DeviceApi& api, MatmulInputs inputs) : api_(api), on_(inputs != MatmulInputs::FP32) {
    if (on_) api_.set_matmul_inputs(inputs);
  }
  ~MatmulScope() {
    if (!on_) return;
    try {
      api_.set_matmul_inputs(MatmulInputs::FP32);
    } catch (...) {  // a failing device reports itself on the next call; a destructor must not throw
    }
  }
  MatmulScope(const MatmulScope&) = delete;
  MatmulScope& operator=(const MatmulScope&) = delete;

 private:
  DeviceApi& api_;
  bool on_;
};

}  // namespace

// Scratch for one sequence, sized for max_tokens. The names follow block_forward.
struct DeviceBlock::Buffers {
  Buffers(DeviceMemory& mem, const ModelConfig& cfg, int64_t t, int64_t score_heads)
      : hidden(mem, size_t(t * cfg.hidden_size) * kF, "the block's hidden state"),
        x(mem, size_t(t * cfg.hidden_size) * kF, "the normalized hidden state"),
        q(mem, size_t(t * cfg.num_attention_heads * cfg.head_dim) * kF, "attention queries"),
        k(mem, size_t(t * cfg.num_key_value_heads * cfg.head_dim) * kF, "attention keys"),
        v(mem, size_t(t * cfg.num_key_value_heads * cfg.head_dim) * kF, "attention values"),
        attn(mem, size_t(t * cfg.num_attention_heads * cfg.head_dim) * kF, "the attention output"),
        gate(mem, size_t(t * cfg.intermediate_size) * kF, "the MLP gate projection"),
        up(mem, size_t(t * cfg.intermediate_size) * kF, "the MLP up projection"),
        rope_cos(mem, size_t(t * cfg.head_dim / 2) * kF, "the RoPE cosine table"),
        rope_sin(mem, size_t(t * cfg.head_dim / 2) * kF, "the RoPE sine table"),
        scores(mem, size_t(score_heads * t * t) * kF, "attention scores"),
        score_heads(score_heads) {}
  DeviceBuffer hidden, x, q, k, v, attn, gate, up, rope_cos, rope_sin, scores;
  int64_t score_heads;
};

DeviceBlock::DeviceBlock(DeviceHandle& dev, const ModelConfig& cfg, const BlockWeights& w, const RopeTables& rope,
                         int64_t tokens)
    : dev_(dev), inputs_(dev.forward_inputs), cfg_(cfg), max_tokens_(tokens) {
  if (tokens <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "device block: token count must be positive, got ", tokens);
  if (tokens > rope.max_tokens || rope.half * 2 != cfg.head_dim)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device block: the RoPE tables cover ", rope.max_tokens,
                " positions of head_dim ", rope.half * 2, "; needed ", tokens, " of head_dim ", cfg.head_dim);
  std::lock_guard<std::mutex> lock(dev_.mutex);
  auto put = [&](const std::string& name, const std::vector<float>& v) {
    if (v.empty()) return;  // optional tensors (biases, q/k norms) absent in this model
    auto buf = std::make_unique<DeviceBuffer>(dev_.memory, v.size() * kF, "the block's weights");
    dev_.api.upload(buf->get(), v.size() * kF, v.data(), v.size() * kF, v.size() * kF, 1);
    weights_[name] = std::move(buf);
  };
  for (LinearGroup g : {LinearGroup::QKV, LinearGroup::O, LinearGroup::GateUp, LinearGroup::Down})
    for (const std::string& name : linear_names(g)) put(name, w.linear(name));
  put("input_norm", w.input_norm);
  put("post_norm", w.post_norm);
  put("q_norm", w.q_norm);
  put("k_norm", w.k_norm);
  put("q_bias", w.q_bias);
  put("k_bias", w.k_bias);
  put("v_bias", w.v_bias);
  put("o_bias", w.o_bias);

  // Everything but the score matrices first, then as many score heads as the rest of the budget holds.
  const int64_t group = cfg.num_attention_heads / cfg.num_key_value_heads;
  buf_ = std::make_unique<Buffers>(dev_.memory, cfg, tokens,
                                   heads_per_score_batch(dev_.memory, group, tokens, scratch_bytes(cfg, tokens)));
  const size_t table = size_t(tokens * rope.half) * kF;
  dev_.api.upload(buf_->rope_cos.get(), table, rope.cos.data(), table, table, 1);
  dev_.api.upload(buf_->rope_sin.get(), table, rope.sin.data(), table, table, 1);
}

DeviceBlock::~DeviceBlock() = default;

uint64_t DeviceBlock::min_bytes(const ModelConfig& cfg, const BlockWeights& w, int64_t tokens) {
  uint64_t weights = 0;
  const auto add = [&](const std::vector<float>& v) { weights += DeviceMemory::rounded(v.size() * kF); };
  for (LinearGroup g : {LinearGroup::QKV, LinearGroup::O, LinearGroup::GateUp, LinearGroup::Down})
    for (const std::string& name : linear_names(g)) add(w.linear(name));
  for (const auto* v : {&w.input_norm, &w.post_norm, &w.q_norm, &w.k_norm, &w.q_bias, &w.k_bias, &w.v_bias, &w.o_bias})
    add(*v);
  return weights + scratch_bytes(cfg, tokens) + DeviceMemory::rounded(uint64_t(tokens) * uint64_t(tokens) * kF);
}

float* DeviceBlock::weight(const std::string& name) const {
  const auto it = weights_.find(name);
  return it == weights_.end() ? nullptr : it->second->f32();
}

int64_t DeviceBlock::score_heads() const { return buf_->score_heads; }

void DeviceBlock::update_linear(const std::string& name, const std::vector<float>& w) {
  const auto it = weights_.find(name);
  if (it == weights_.end()) throw_error(SQ_ERR_INVALID_ARGUMENT, "device block: no linear layer '", name, "'");
  const size_t bytes = w.size() * kF;
  if (bytes != it->second->bytes())
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device block: linear layer '", name, "' has ", it->second->bytes() / kF,
                " weights, not ", w.size());
  std::lock_guard<std::mutex> lock(dev_.mutex);
  dev_.api.upload(it->second->get(), bytes, w.data(), bytes, bytes, 1);
}

void DeviceBlock::attention(int64_t tokens) {
  // Per KV head: scores S = scale Q_h K^T for its query heads (batched, K shared through a zero stride),
  // causal softmax, then O_h = P V. Same arithmetic as ops::causal_attention, over the full square.
  DeviceApi& d = dev_.api;
  Buffers& b = *buf_;
  const int64_t hd = cfg_.head_dim, nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads;
  const int64_t ldq = nh * hd, ldk = nkv * hd, group = nh / nkv, tt = tokens * tokens;
  const float scale = 1.0f / std::sqrt(float(hd));
  for (int64_t kv = 0; kv < nkv; ++kv) {
    const int64_t end = (kv + 1) * group;  // query heads [kv * group, end) read this KV head
    for (int64_t h0 = kv * group; h0 < end;) {
      const int64_t heads = std::min(b.score_heads, end - h0);
      d.gemm_strided_batched(false, true, tokens, tokens, hd, scale, b.q.f32() + h0 * hd, ldq, hd,
                             b.k.f32() + kv * hd, ldk, 0, 0.0f, b.scores.f32(), tokens, tt, heads);
      d.causal_softmax(b.scores.f32(), tokens, heads, cfg_.sliding_window);
      d.gemm_strided_batched(false, false, tokens, hd, tokens, 1.0f, b.scores.f32(), tokens, tt,
                             b.v.f32() + kv * hd, ldk, 0, 0.0f, b.attn.f32() + h0 * hd, ldq, hd, heads);
      h0 += heads;
    }
  }
}

void DeviceBlock::check_tokens(int64_t tokens) const {
  if (tokens > max_tokens_)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device block: ", tokens, " tokens exceed the ", max_tokens_,
                " it was sized for");
}

void DeviceBlock::forward(float* hidden, int64_t tokens, const DeviceCaptureFn* capture,
                          std::optional<LinearGroup> stop_after) {
  if (tokens <= 0) return;
  check_tokens(tokens);
  std::lock_guard<std::mutex> lock(dev_.mutex);
  const size_t row = size_t(cfg_.hidden_size) * kF;
  dev_.api.upload(buf_->hidden.get(), row, hidden, row, row, size_t(tokens));
  if (run(tokens, capture, stop_after))
    dev_.api.download(hidden, row, buf_->hidden.get(), row, row, size_t(tokens));
}

void DeviceBlock::forward_on_device(float* hidden_device, int64_t tokens, const DeviceCaptureFn* capture,
                                    std::optional<LinearGroup> stop_after, const PassCheckpoint* checkpoint) {
  if (tokens <= 0) return;
  check_tokens(tokens);
  std::lock_guard<std::mutex> lock(dev_.mutex);
  const size_t bytes = size_t(tokens * cfg_.hidden_size) * kF;
  if (!checkpoint || checkpoint->load != BlockPoint::Residual)  // else the checkpoint replaces the input
    dev_.api.copy_on_device(buf_->hidden.get(), hidden_device, bytes);
  if (run(tokens, capture, stop_after, checkpoint)) dev_.api.copy_on_device(hidden_device, buf_->hidden.get(), bytes);
}

bool DeviceBlock::run(int64_t tokens, const DeviceCaptureFn* capture, std::optional<LinearGroup> stop_after,
                      const PassCheckpoint* checkpoint) {
  const MatmulScope precision(dev_.api, inputs_);
  DeviceApi& d = dev_.api;
  Buffers& b = *buf_;
  const int64_t h = cfg_.hidden_size, hd = cfg_.head_dim;
  const int64_t nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads;
  const int64_t q_dim = nh * hd, kv_dim = nkv * hd, inter = cfg_.intermediate_size;
  const float eps = float(cfg_.rms_norm_eps);
  auto captured = [&](LinearGroup g, const float* x, int64_t in_features) {
    if (capture != nullptr && *capture) (*capture)(g, x, tokens, in_features);
    return stop_after && *stop_after == g;
  };
  // y [tokens, out] = x W^T (+ bias), or y += ... with accumulate (the residual add).
  auto linear = [&](const float* x, int64_t in, const char* name, const char* bias, int64_t out, float* y,
                    bool accumulate) {
    d.gemm(false, true, tokens, out, in, 1.0f, x, in, weight(name), in, accumulate ? 1.0f : 0.0f, y, out);
    if (const float* bb = weight(bias)) d.add_row_bias(y, bb, tokens, out);
  };
  const BlockPoint load = checkpoint ? checkpoint->load : BlockPoint::Input;
  const BlockPoint save = checkpoint ? checkpoint->save : BlockPoint::Input;
  check_pass_range(checkpoint, stop_after);

  if (load == BlockPoint::Residual) {
    d.copy_on_device(b.hidden.get(), checkpoint->data, size_t(tokens * h) * kF);
  } else {
    const float* attn = b.attn.f32();
    if (load == BlockPoint::AttentionOutput) {
      attn = checkpoint->data;
    } else {
      // ---- attention ----
      d.rms_norm(b.hidden.f32(), weight("input_norm"), tokens, h, eps, b.x.f32());
      if (captured(LinearGroup::QKV, b.x.f32(), h)) return false;
      linear(b.x.f32(), h, "self_attn.q_proj", "q_bias", q_dim, b.q.f32(), false);
      linear(b.x.f32(), h, "self_attn.k_proj", "k_bias", kv_dim, b.k.f32(), false);
      linear(b.x.f32(), h, "self_attn.v_proj", "v_bias", kv_dim, b.v.f32(), false);
      if (cfg_.qk_norm) {
        d.rms_norm(b.q.f32(), weight("q_norm"), tokens * nh, hd, eps, b.q.f32());
        d.rms_norm(b.k.f32(), weight("k_norm"), tokens * nkv, hd, eps, b.k.f32());
      }
      d.rope(b.q.f32(), b.rope_cos.f32(), b.rope_sin.f32(), tokens, nh, hd);
      d.rope(b.k.f32(), b.rope_cos.f32(), b.rope_sin.f32(), tokens, nkv, hd);
      attention(tokens);
      if (save == BlockPoint::AttentionOutput) d.copy_on_device(checkpoint->data, attn, size_t(tokens * q_dim) * kF);
    }
    if (captured(LinearGroup::O, attn, q_dim)) return false;
    linear(attn, q_dim, "self_attn.o_proj", "o_bias", h, b.hidden.f32(), true);
    // The o_proj GEMM has read an AttentionOutput checkpoint before (stream order) this overwrites it.
    if (save == BlockPoint::Residual) d.copy_on_device(checkpoint->data, b.hidden.get(), size_t(tokens * h) * kF);
  }

  // ---- MLP ----
  d.rms_norm(b.hidden.f32(), weight("post_norm"), tokens, h, eps, b.x.f32());
  if (captured(LinearGroup::GateUp, b.x.f32(), h)) return false;
  linear(b.x.f32(), h, "mlp.gate_proj", "", inter, b.gate.f32(), false);
  linear(b.x.f32(), h, "mlp.up_proj", "", inter, b.up.f32(), false);
  d.silu_mul(b.gate.f32(), b.up.f32(), tokens * inter);
  if (captured(LinearGroup::Down, b.gate.f32(), inter)) return false;
  linear(b.gate.f32(), inter, "mlp.down_proj", "", h, b.hidden.f32(), true);
  return true;
}

}  // namespace sq
