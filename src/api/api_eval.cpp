// C ABI: logits and perplexity of an opened model (fp32 forward pass on the context's backend).
#include <algorithm>
#include <limits>
#include <memory>

#include "api/api_internal.hpp"
#include "api/api_model.hpp"
#include "model/forward.hpp"
#include "pipeline/sensitivity.hpp"
#include "util/atomic_output.hpp"
#include "streamquant/sq_eval.h"

using sq::api::guard;
using sq::api::require_arg;

namespace {

const sq::ModelConfig& require_config(const sq_model* model, const char* fn) {
  if (!model->files.config)
    sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": model '", model->files.path,
                    "' has no config.json, so its architecture is unknown");
  return *model->files.config;
}

// The context's backend. Every backend takes host memory; a CUDA context runs the large products on its GPU.
class EvalBackend {
 public:
  EvalBackend(const sq_model* model, const char* fn) {
    if (model->ctx == nullptr || !model->ctx->backend)
      sq::throw_error(SQ_ERR_STATE, fn, ": the model's context has no backend");
    be_ = model->ctx->backend.get();
  }
  sq::Backend& get() { return *be_; }

 private:
  sq::Backend* be_ = nullptr;
};

void require_tokens(const int32_t* tokens, size_t n, const char* fn) {
  if (n == 0) sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'n' must be positive");
  require_arg(tokens, fn, "tokens");
  if (n > size_t(std::numeric_limits<int32_t>::max()))
    sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'n' (", n, ") is too large");
}

}  // namespace

extern "C" {

SQ_API sq_error* sq_model_logits(sq_model* model, const int32_t* tokens, size_t n, float* logits_out,
                                 size_t capacity) {
  return guard([&] {
    const char* fn = "sq_model_logits";
    require_arg(model, fn, "model");
    require_arg(logits_out, fn, "logits_out");
    require_tokens(tokens, n, fn);
    const sq::ModelConfig& cfg = require_config(model, fn);
    const sq::WeightSource& src = *model->files.weights;
    // The output size is known before any work: check it first so a short buffer fails fast.
    const size_t head_idx = src.find(cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    if (head_idx != SIZE_MAX && !src.tensors()[head_idx].shape.empty()) {
      const size_t needed = n * size_t(src.tensors()[head_idx].shape[0]);
      if (capacity < needed)
        sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'capacity' is ", capacity, " floats, ", n,
                        " tokens x ", src.tensors()[head_idx].shape[0], " vocab need ", needed);
    }
    const std::vector<float> logits = sq::model_logits(EvalBackend(model, fn).get(), src, cfg, tokens, int64_t(n));
    if (capacity < logits.size())
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'capacity' is ", capacity, " floats, ",
                      logits.size(), " are needed");
    std::copy(logits.begin(), logits.end(), logits_out);
  });
}

SQ_API sq_error* sq_model_perplexity(sq_model* model, const int32_t* tokens, size_t n, size_t seq_len,
                                     size_t max_tokens, double* ppl_out, size_t* tokens_scored_out) {
  return guard([&] {
    const char* fn = "sq_model_perplexity";
    require_arg(model, fn, "model");
    require_arg(ppl_out, fn, "ppl_out");
    require_tokens(tokens, n, fn);
    if (seq_len < 2 || seq_len > size_t(std::numeric_limits<int32_t>::max()))
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'seq_len' must be at least 2, got ", seq_len);
    const sq::ModelConfig& cfg = require_config(model, fn);
    sq::PerplexityOptions opt;
    opt.seq_len = int64_t(seq_len);
    opt.max_tokens = max_tokens;
    // Windows share each block's weights in batches; an eighth of the memory budget for their hidden
    // states, within [64 MiB, 1 GiB] (beyond that batching saves nothing measurable).
    const uint64_t budget = model->ctx ? model->ctx->memory_budget : 0;
    opt.batch_bytes = std::clamp<uint64_t>(budget / 8, uint64_t(64) << 20, uint64_t(1) << 30);
    const sq::PerplexityResult r =
        sq::model_perplexity(EvalBackend(model, fn).get(), *model->files.weights, cfg, tokens, n, opt);
    *ppl_out = r.perplexity;
    if (tokens_scored_out != nullptr) *tokens_scored_out = size_t(r.tokens_scored);
  });
}

SQ_API sq_error* sq_model_calibrate_sensitivity(sq_model* model, const int32_t* tokens, size_t n, size_t seq_len,
                                                size_t max_tokens, const double* noise_levels, size_t n_levels,
                                                uint64_t seed, int32_t antithetic, const char* text_label_utf8,
                                                const char* out_path_utf8) {
  return guard([&] {
    const char* fn = "sq_model_calibrate_sensitivity";
    require_arg(model, fn, "model");
    require_arg(out_path_utf8, fn, "out_path_utf8");
    require_tokens(tokens, n, fn);
    if (n_levels == 0) sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'n_levels' must be positive");
    require_arg(noise_levels, fn, "noise_levels");
    if (seq_len < 2 || seq_len > size_t(std::numeric_limits<int32_t>::max()))
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument 'seq_len' must be at least 2, got ", seq_len);
    const sq::ModelConfig& cfg = require_config(model, fn);
    sq::SensitivityOptions opt;
    opt.seq_len = int64_t(seq_len);
    opt.max_tokens = max_tokens;
    opt.noise_levels.assign(noise_levels, noise_levels + n_levels);
    opt.seed = seed;
    opt.antithetic = antithetic != 0;
    const sq::Logger& log = model->ctx ? model->ctx->log : sq::null_logger();
    const auto progress = [&](int64_t done, int64_t total) {
      if (done % 10 == 0 || done == total) log.info("sensitivity: ", done, "/", total, " layers");
      return 0;
    };
    const sq::SensitivityResult r = sq::measure_sensitivity(EvalBackend(model, fn).get(), *model->files.weights, cfg,
                                                            tokens, n, opt, progress);
    const std::string label = text_label_utf8 ? text_label_utf8 : "";
    sq::write_file_atomic(out_path_utf8, sq::sensitivity_to_json(r, model->files.path, label).dump(1) + "\n");
  });
}

}  // extern "C"
