/*
 * streamquant C API: forward pass, logits and perplexity.
 */
#ifndef STREAMQUANT_SQ_EVAL_H
#define STREAMQUANT_SQ_EVAL_H

#include "sq_core.h"
#include "sq_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Both functions run the model's full-precision forward pass (fp32 on the context's backend) and need a
 * model with a config (sq_model_open of a Hugging Face directory or a GGUF file). Token ids outside the
 * vocabulary are SQ_ERR_INVALID_ARGUMENT. On failure the out-params are left untouched.
 */

/**
 * Logits of one sequence: `logits_out` receives n * vocab floats, row t holding the logits that predict
 * token t + 1. `capacity` is the number of floats `logits_out` holds; when it is smaller than n * vocab the
 * call fails with SQ_ERR_INVALID_ARGUMENT naming the size needed (vocab = the model's output rows).
 */
SQ_API sq_error *sq_model_logits(sq_model *model, const int32_t *tokens, size_t n, float *logits_out,
                                 size_t capacity);

/**
 * Perplexity of a token stream with the GPTQ papers' protocol: the first min(n, max_tokens) tokens
 * (max_tokens 0 = all) are cut into non-overlapping windows of seq_len tokens, the shorter tail is
 * dropped, and ppl = exp(mean negative log-likelihood over every token but each window's first).
 * `tokens_scored_out` (may be NULL) receives the number of predicted tokens, windows * (seq_len - 1).
 */
SQ_API sq_error *sq_model_perplexity(sq_model *model, const int32_t *tokens, size_t n, size_t seq_len,
                                     size_t max_tokens, double *ppl_out, size_t *tokens_scored_out);

/**
 * Per-layer sensitivity for dynamic bit allocation (the HIGGS linearity theorem: the perplexity increase
 * of a model whose linear layers carry relative errors t_l is about sum_l alpha_l * t_l). For each linear
 * layer alone, Gaussian noise E with ||E||^2 = t ||W||^2 (seeded) is added to its weight, the perplexity of
 * the first min(n, max_tokens) tokens (windows of seq_len, as sq_model_perplexity) is measured, and alpha
 * is the least-squares slope through the origin of the increase over the `n_levels` noise levels t. With
 * `antithetic` non-zero each level is measured at W + E and W - E and averaged (cancels the first-order
 * term; twice the cost). Writes a JSON file to `out_path_utf8` (atomically):
 *   {model, text, tokens, base_ppl, base_nll, noise_levels, seconds, layers: [{name, numel, rows, cols,
 *    alpha, alpha_nll, dppl, dnll}]}
 * `text_label_utf8` (may be NULL) is recorded as "text". Progress is logged at INFO level. The forward pass
 * runs on the context's backend (a CUDA context runs its large matrix products on the GPU).
 */
SQ_API sq_error *sq_model_calibrate_sensitivity(sq_model *model, const int32_t *tokens, size_t n, size_t seq_len,
                                                size_t max_tokens, const double *noise_levels, size_t n_levels,
                                                uint64_t seed, int32_t antithetic, const char *text_label_utf8,
                                                const char *out_path_utf8);

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_EVAL_H */
