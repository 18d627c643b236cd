// Token embedding lookup and the output head (final RMSNorm + lm_head, or the tied embedding matrix).
#include <algorithm>
#include <vector>

#include "model/llama_block.hpp"
#include "model/ops.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

const char* const kEmbedName = "model.embed_tokens.weight";

// Index of a [rows, hidden] matrix tensor, checked.
size_t require_matrix(const WeightSource& src, const std::string& name, int64_t hidden) {
  const size_t idx = src.require(name);
  const auto& shape = src.tensors()[idx].shape;
  if (shape.size() != 2 || shape[1] != hidden || shape[0] <= 0)
    throw_error(SQ_ERR_FORMAT, "tensor '", name, "' must have shape [vocab, ", hidden, "] (hidden_size), got ",
                shape.size(), " dimensions");
  return idx;
}

}  // namespace

void embed_tokens(const WeightSource& src, const ModelConfig& cfg, const int32_t* ids, int64_t tokens,
                  float* hidden) {
  const int64_t h = cfg.hidden_size;
  const size_t idx = require_matrix(src, kEmbedName, h);
  const TensorDesc& d = src.tensors()[idx];
  const int64_t vocab = d.shape[0];
  for (int64_t t = 0; t < tokens; ++t)
    if (ids[t] < 0 || ids[t] >= vocab)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "token id ", ids[t], " at position ", t, " is outside the vocabulary [0, ",
                  vocab, ") of tensor '", kEmbedName, "'");

  // Plain float storage: convert only the rows asked for. Otherwise (block-quantized GGUF) dequantize the
  // whole table once for this call.
  const void* raw = src.raw_data(idx);
  if (raw != nullptr && dtype_is_float(d.dtype)) {
    const size_t row_bytes = size_t(h) * dtype_size(d.dtype);
    for (int64_t t = 0; t < tokens; ++t)
      convert_to_f32(d.dtype, static_cast<const char*>(raw) + size_t(ids[t]) * row_bytes, hidden + t * h, size_t(h));
    return;
  }
  std::vector<float> table(d.numel());
  src.read_f32(idx, table.data());
  for (int64_t t = 0; t < tokens; ++t)
    std::copy_n(table.data() + size_t(ids[t]) * size_t(h), size_t(h), hidden + t * h);
}

LmHead::LmHead(const WeightSource& src, const ModelConfig& cfg) : cfg_(cfg) {
  const int64_t h = cfg.hidden_size;
  const size_t norm_idx = src.require("model.norm.weight");
  if (src.tensors()[norm_idx].shape != std::vector<int64_t>{h})
    throw_error(SQ_ERR_FORMAT, "tensor 'model.norm.weight' must have shape [", h, "] (hidden_size)");
  norm_.resize(size_t(h));
  src.read_f32(norm_idx, norm_.data());

  // Tied models use the embedding matrix even when a copy of it is stored as lm_head.weight.
  const std::string name = cfg.tie_word_embeddings ? kEmbedName : "lm_head.weight";
  if (!cfg.tie_word_embeddings && src.find(name) == SIZE_MAX)
    throw_error(SQ_ERR_NOT_FOUND, "tensor 'lm_head.weight' not found and the config has tie_word_embeddings false");
  const size_t idx = require_matrix(src, name, h);
  vocab_ = src.tensors()[idx].shape[0];
  weight_.resize(src.tensors()[idx].numel());
  src.read_f32(idx, weight_.data());
}

LmHead::~LmHead() = default;

void LmHead::keep_on_device(Backend& be, int64_t max_tokens) {
  DeviceHandle* dev = be.device();
  if (!dev || device_weight_) return;
  const uint64_t h = uint64_t(cfg_.hidden_size), v = uint64_t(vocab_), t = uint64_t(max_tokens);
  const uint64_t need = DeviceMemory::rounded(v * h * sizeof(float)) + DeviceMemory::rounded(t * h * sizeof(float)) +
                        DeviceMemory::rounded(t * v * sizeof(float));
  if (need > dev->memory.available()) return;  // staged per call instead
  device_weight_ = std::make_unique<DeviceBuffer>(dev->memory, weight_.size() * sizeof(float), "the LM head");
  device_rows_in_ = std::make_unique<DeviceBuffer>(dev->memory, size_t(t * h) * sizeof(float), "the LM head's input rows");
  device_logits_ = std::make_unique<DeviceBuffer>(dev->memory, size_t(t * v) * sizeof(float), "the logits");
  device_rows_ = max_tokens;
  std::lock_guard<std::mutex> lock(dev->mutex);
  const size_t bytes = weight_.size() * sizeof(float);
  dev->api.upload(device_weight_->get(), bytes, weight_.data(), bytes, bytes, 1);
  device_ = dev;
}

void LmHead::logits(Backend& be, const float* hidden, int64_t tokens, float* out) const {
  const int64_t h = cfg_.hidden_size;
  std::vector<float> x(size_t(tokens * h));
  ops::rms_norm(be, hidden, norm_.data(), tokens, h, cfg_.rms_norm_eps, x.data());
  if (device_weight_ && be.device() == device_ && tokens <= device_rows_) {
    std::lock_guard<std::mutex> lock(device_->mutex);
    const size_t xb = size_t(h) * sizeof(float), ob = size_t(vocab_) * sizeof(float);
    device_->api.upload(device_rows_in_->get(), xb, x.data(), xb, xb, size_t(tokens));
    device_->api.gemm(false, true, tokens, vocab_, h, 1.0f, device_rows_in_->f32(), h, device_weight_->f32(), h, 0.0f,
                      device_logits_->f32(), vocab_);
    device_->api.download(out, ob, device_logits_->get(), ob, ob, size_t(tokens));
    return;
  }
  be.gemm(false, true, tokens, vocab_, h, 1.0f, x.data(), h, weight_.data(), h, 0.0f, out, vocab_);
}

}  // namespace sq
