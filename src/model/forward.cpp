#include "model/forward.hpp"

#include <algorithm>
#include <cmath>

#include "backend/offload/device_memory.hpp"
#include "model/device_block.hpp"
#include "model/llama_block.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// Logits are produced this many rows at a time when only their NLL is needed, so a 2048-token window of a
// 128k-vocabulary model never holds its full [2048, vocab] logits.
constexpr int64_t kHeadRows = 256;

void require_config(const ModelConfig& cfg, const char* what) {
  if (cfg.hidden_size <= 0 || cfg.num_hidden_layers <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, what, ": the model config is empty (hidden_size ", cfg.hidden_size,
                ", num_hidden_layers ", cfg.num_hidden_layers, ")");
}

// Embed `count` sequences of `len` tokens each and run them through every block. hidden: [count, len, hidden].
// On a device backend each block is uploaded once and runs resident (model/device_block.hpp) in plain fp32,
// when the budget holds it; otherwise its operations are staged one by one like on any backend.
void run_blocks(Backend& be, const WeightSource& src, const ModelConfig& cfg, const int32_t* tokens, int64_t count,
                int64_t len, std::vector<float>& hidden) {
  const int64_t h = cfg.hidden_size;
  hidden.assign(size_t(count * len * h), 0.0f);
  for (int64_t s = 0; s < count; ++s) embed_tokens(src, cfg, tokens + s * len, len, hidden.data() + s * len * h);
  const RopeTables rope = make_rope_tables(cfg, len);
  for (int64_t layer = 0; layer < cfg.num_hidden_layers; ++layer) {
    const BlockWeights w = load_block_weights(src, cfg, layer);
    DeviceHandle* dev = be.device();
    if (dev && DeviceBlock::min_bytes(cfg, w, len) <= dev->memory.available()) {
      DeviceBlock block(*dev, cfg, w, rope, len);
      block.set_matmul_inputs(MatmulInputs::FP32);
      for (int64_t s = 0; s < count; ++s) block.forward(hidden.data() + s * len * h, len);
      continue;
    }
    for (int64_t s = 0; s < count; ++s) block_forward(be, cfg, w, rope, hidden.data() + s * len * h, len);
  }
}

}  // namespace

std::vector<float> model_logits(Backend& be, const WeightSource& src, const ModelConfig& cfg, const int32_t* tokens,
                                int64_t n) {
  require_config(cfg, "logits");
  if (n <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "logits: the token count must be positive, got ", n);
  std::vector<float> hidden;
  run_blocks(be, src, cfg, tokens, 1, n, hidden);
  const LmHead head(src, cfg);
  std::vector<float> logits(size_t(n * head.vocab()));
  head.logits(be, hidden.data(), n, logits.data());
  return logits;
}

double sum_nll(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * vocab;
    const int32_t target = targets[r];
    if (target < 0 || target >= vocab)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "target token id ", target, " is outside the output vocabulary [0, ",
                  vocab, ")");
    const float mx = *std::max_element(row, row + vocab);
    double sum = 0.0;
    for (int64_t j = 0; j < vocab; ++j) sum += std::exp(double(row[j] - mx));
    total += double(mx) + std::log(sum) - double(row[target]);
  }
  return total;
}

PerplexityResult model_perplexity(Backend& be, const WeightSource& src, const ModelConfig& cfg, const int32_t* tokens,
                                  size_t n, const PerplexityOptions& opt) {
  require_config(cfg, "perplexity");
  if (opt.seq_len < 2)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "perplexity: seq_len must be at least 2, got ", opt.seq_len);
  const uint64_t used = opt.max_tokens > 0 ? std::min<uint64_t>(n, opt.max_tokens) : n;
  const int64_t windows = int64_t(used / uint64_t(opt.seq_len));
  if (windows == 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "perplexity: ", used, " tokens", opt.max_tokens > 0 ? " (after max_tokens)" : "",
                " do not fill one window of seq_len ", opt.seq_len);

  const int64_t len = opt.seq_len, h = cfg.hidden_size;
  const uint64_t window_bytes = uint64_t(len * h) * sizeof(float);
  const int64_t per_batch = std::max<int64_t>(1, int64_t(opt.batch_bytes / window_bytes));
  LmHead head(src, cfg);
  head.keep_on_device(be, std::min(kHeadRows, len));
  const int64_t vocab = head.vocab();
  std::vector<float> hidden, logits(size_t(std::min(kHeadRows, len) * vocab));
  double total_nll = 0.0;

  for (int64_t first = 0; first < windows; first += per_batch) {
    const int64_t count = std::min(per_batch, windows - first);
    const int32_t* batch_tokens = tokens + first * len;
    run_blocks(be, src, cfg, batch_tokens, count, len, hidden);
    for (int64_t s = 0; s < count; ++s) {
      const int32_t* window = batch_tokens + s * len;
      // Row t predicts token t + 1; the window's last row has nothing to predict.
      for (int64_t r0 = 0; r0 < len - 1; r0 += kHeadRows) {
        const int64_t rows = std::min(kHeadRows, len - 1 - r0);
        head.logits(be, hidden.data() + (s * len + r0) * h, rows, logits.data());
        total_nll += sum_nll(logits.data(), rows, vocab, window + r0 + 1);
      }
    }
  }

  PerplexityResult res;
  res.windows = windows;
  res.tokens_scored = uint64_t(windows) * uint64_t(len - 1);
  res.mean_nll = total_nll / double(res.tokens_scored);
  res.perplexity = std::exp(res.mean_nll);
  return res;
}

}  // namespace sq
