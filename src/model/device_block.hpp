// One decoder block resident on a device backend's device. The block's weights are uploaded once; the
// forward pass of a sequence then runs entirely on the device (the same steps, in the same order, as
// block_forward in llama_block.hpp), so only the hidden state crosses to the device and back, and a linear
// group's input can be handed to the Hessian accumulation while it is still on the device.
//
// This is what makes the calibration forward fast on a GPU: with host pointers alone (the offload
// backend) every GEMM would move its operands across the bus and attention would run on host cores.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/offload/device_memory.hpp"
#include "model/llama_block.hpp"

namespace sq {

// Called with a linear group's input x [tokens, in_features] in device memory, while the device lock is
// held (use dev.api directly; do not take the lock again).
using DeviceCaptureFn = std::function<void(LinearGroup group, const float* x, int64_t tokens, int64_t in_features)>;

class DeviceBlock {
 public:
  // Uploads `w` and allocates the scratch for sequences of up to `tokens` tokens. Throws
  // SQ_ERR_OUT_OF_MEMORY (naming what did not fit) when the device memory budget is too small.
  DeviceBlock(DeviceHandle& dev, const ModelConfig& cfg, const BlockWeights& w, const RopeTables& rope,
              int64_t tokens);
  ~DeviceBlock();
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;

  // The least device memory the constructor takes for this block: its weights and the scratch of one
  // sequence with a single score head (a budget with more room batches more heads).
  static uint64_t min_bytes(const ModelConfig& cfg, const BlockWeights& w, int64_t tokens);

  // Replace linear layer `name`'s weight ("mlp.down_proj", ...) with `w` (the same shape), e.g. its
  // quantized values, so later passes see it.
  void update_linear(const std::string& name, const std::vector<float>& w);

  // hidden [tokens, hidden_size] host memory, updated in place to the block's output. With
  // dev.forward_inputs other than FP32 the pass's GEMMs (and the captures' Hessian SYRKs) may round their
  // inputs (MatmulInputs). `capture` sees each
  // linear group's input on the device; with stop_after the pass returns right after that group's capture
  // (hidden is then left unchanged).
  void forward(float* hidden, int64_t tokens, const DeviceCaptureFn* capture = nullptr,
               std::optional<LinearGroup> stop_after = std::nullopt);

  // The same pass on a hidden state in device memory (hidden_device [tokens, hidden_size]): updated in place
  // by a full pass, left unchanged by a pass that stops after a capture.
  // With `checkpoint`, the pass starts at its load point (hidden_device is not read when that is Residual)
  // and saves its save point on the way; stop_after must come after the load point.
  void forward_on_device(float* hidden_device, int64_t tokens, const DeviceCaptureFn* capture = nullptr,
                         std::optional<LinearGroup> stop_after = std::nullopt,
                         const PassCheckpoint* checkpoint = nullptr);

  // Query heads whose score matrices are computed in one batch (a whole GQA group when the budget allows).
  int64_t score_heads() const;
  // What this block's GEMMs may round their inputs to; dev.forward_inputs unless set here (evaluation keeps
  // FP32, so a perplexity does not depend on the calibration's speed setting).
  void set_matmul_inputs(MatmulInputs inputs) { inputs_ = inputs; }

 private:
  struct Buffers;
  float* weight(const std::string& name) const;
  // The pass on buf_->hidden; true when it ran to the end (no stop_after capture ended it).
  bool run(int64_t tokens, const DeviceCaptureFn* capture, std::optional<LinearGroup> stop_after,
           const PassCheckpoint* checkpoint = nullptr);
  void check_tokens(int64_t tokens) const;
  void attention(int64_t tokens);

  DeviceHandle& dev_;
  MatmulInputs inputs_;
  const ModelConfig& cfg_;
  int64_t max_tokens_;
  std::map<std::string, std::unique_ptr<DeviceBuffer>> weights_;  // by tensor name within the block
  std::unique_ptr<Buffers> buf_;
};

}  // namespace sq
