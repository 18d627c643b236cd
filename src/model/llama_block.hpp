// The Llama-family transformer: block weights, the block forward pass, embedding and head.
// Written against the Backend interface so the CUDA backend can run the same code path.
// Activations are fp32, row-major [tokens, hidden]; one call processes one sequence.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/offload/device_memory.hpp"
#include "io/model_config.hpp"
#include "io/weight_source.hpp"

namespace sq {

// The four groups of linear layers of a block, in true-sequential order. Layers in one group share
// their input (and so one Hessian).
enum class LinearGroup { QKV = 0, O = 1, GateUp = 2, Down = 3 };

// Linear layer names of block i, e.g. "self_attn.q_proj"; the tensor is layer_prefix(i) + name + ".weight".
const std::vector<std::string>& linear_names(LinearGroup g);

struct BlockWeights {
  // Linear weights [out, in], fp32.
  std::vector<float> q, k, v, o, gate, up, down;
  std::vector<float> q_bias, k_bias, v_bias;     // empty unless config.attention_bias
  std::vector<float> o_bias;                     // empty unless config.o_bias
  std::vector<float> input_norm, post_norm;      // [hidden]
  std::vector<float> q_norm, k_norm;             // [head_dim], empty unless config.qk_norm
  // The weight of linear layer `name` ("self_attn.q_proj", ...).
  std::vector<float>& linear(const std::string& name);
  const std::vector<float>& linear(const std::string& name) const;
};

BlockWeights load_block_weights(const WeightSource& src, const ModelConfig& cfg, int64_t layer);

// One linear weight of block `layer` (name as in linear_names), shape checked against the config.
struct LinearWeight {
  std::vector<float> data;  // [rows, cols] fp32
  int64_t rows = 0, cols = 0;
};
LinearWeight load_linear_weight(const WeightSource& src, const ModelConfig& cfg, int64_t layer, const std::string& name);

// Called with the input of each linear group: x is [tokens, in_features].
using CaptureFn = std::function<void(LinearGroup group, const float* x, int64_t tokens, int64_t in_features)>;

// Points inside the block where a pass can leave a sequence's state and a later pass can start instead of at
// the block's input. A true-sequential quantizer runs the block up to each linear group in turn;
// started from the furthest checkpoint that no changed weight precedes, those passes compute each step about
// once (BlockPasses), where starting every pass at the input computes the q/k/v projections and the attention
// four times and o_proj three. A pass from a checkpoint runs the same operations on the same values as one from
// the input: the results are the same bits.
enum class BlockPoint {
  Input,            // the block's input: nothing is loaded or saved
  AttentionOutput,  // the input of o_proj [tokens, heads x head_dim]: depends on q, k, v
  Residual,         // the hidden state after attention's residual add [tokens, hidden]: depends on q, k, v, o
};

// One sequence's checkpoint for a pass: `data` (checkpoint_floats floats, in the memory the pass runs in) holds the state at `load`,
// where the pass starts, and receives the state at `save` when the pass goes through that point.
struct PassCheckpoint {
  float* data = nullptr;
  BlockPoint load = BlockPoint::Input;
  BlockPoint save = BlockPoint::Input;
};

// Floats of one sequence's checkpoint memory: room for either point's state.
int64_t checkpoint_floats(const ModelConfig& cfg, int64_t tokens);
// Throws SQ_ERR_INTERNAL when a pass would start past the linear group it stops at.
void check_pass_range(const PassCheckpoint* checkpoint, std::optional<LinearGroup> stop_after);

// Precomputed RoPE cos/sin tables (with llama3 scaling when configured) for positions [0, max_tokens).
struct RopeTables {
  int64_t max_tokens = 0, half = 0;
  std::vector<float> cos, sin;  // [max_tokens, head_dim/2]
};
RopeTables make_rope_tables(const ModelConfig& cfg, int64_t max_tokens);

// hidden [tokens, hidden_size] is updated in place to the block's output. When `capture` is set it sees
// every linear group's input; when `stop_after` is set the pass returns right after capturing that
// group (hidden is then unspecified) -- the pipeline uses this to re-run partial blocks cheaply. With
// `checkpoint` the pass starts at its load point (hidden is not read when that is Residual) and saves its save
// point on the way; stop_after must not come before the load point. All pointers are host memory.
void block_forward(Backend& be, const ModelConfig& cfg, const BlockWeights& w, const RopeTables& rope,
                   float* hidden, int64_t tokens, const CaptureFn* capture = nullptr,
                   std::optional<LinearGroup> stop_after = std::nullopt, const PassCheckpoint* checkpoint = nullptr);

// Token embedding lookup into hidden [tokens, hidden_size]; ids out of range are SQ_ERR_INVALID_ARGUMENT.
void embed_tokens(const WeightSource& src, const ModelConfig& cfg, const int32_t* ids, int64_t tokens,
                  float* hidden);

// Final RMSNorm + lm_head (or the tied embedding): logits [tokens, vocab].
class LmHead {
 public:
  LmHead(const WeightSource& src, const ModelConfig& cfg);
  ~LmHead();
  void logits(Backend& be, const float* hidden, int64_t tokens, float* out) const;
  int64_t vocab() const { return vocab_; }
  // On a device backend whose budget holds the head's weight beside a chunk of `max_tokens` rows and their
  // logits, upload the weight once, so each logits() call on `be` moves only its rows and their logits (an
  // offloaded GEMM would upload the whole head per call: 2 GB for a 128k-vocabulary 4096-wide model).
  void keep_on_device(Backend& be, int64_t max_tokens);

 private:
  const ModelConfig& cfg_;
  std::vector<float> norm_, weight_;
  int64_t vocab_ = 0;
  // keep_on_device: the weight, and room for a chunk of up to device_rows_ rows and their logits.
  std::unique_ptr<DeviceBuffer> device_weight_, device_rows_in_, device_logits_;
  int64_t device_rows_ = 0;
  DeviceHandle* device_ = nullptr;
};

}  // namespace sq
