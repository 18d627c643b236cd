// The elementwise and attention kernels of the Llama-family block, on host fp32 rows.
// They follow transformers' eager float32 arithmetic (RMSNorm and softmax in fp32, HF's rotate_half RoPE)
// so that logits agree with the reference to rounding.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "model/llama_block.hpp"

namespace sq::ops {

// y[r] = weight * x[r] / sqrt(mean(x[r]^2) + eps) for `rows` rows of width `dim` (y may equal x).
void rms_norm(Backend& be, const float* x, const float* weight, int64_t rows, int64_t dim, double eps, float* y);

// y[T, out] = x[T, in] W^T (+ bias), W [out, in]. With accumulate, y += x W^T (+ bias) instead.
void linear(Backend& be, const float* x, int64_t tokens, int64_t in, const std::vector<float>& w, int64_t out,
            const std::vector<float>& bias, float* y, bool accumulate = false);

// Rotate `heads` heads of width head_dim in x [tokens, heads * head_dim] in place, position t = row t.
void apply_rope(Backend& be, const RopeTables& rope, float* x, int64_t tokens, int64_t heads, int64_t head_dim);

// gate <- silu(gate) * up, elementwise over n values.
void silu_mul(Backend& be, float* gate, const float* up, int64_t n);

// Causal grouped-query attention. q [T, nh*hd], k and v [T, nkv*hd], out [T, nh*hd]; query head h reads
// key/value head h / (nh / nkv). window > 0 limits each query to the last `window` keys (itself included).
void causal_attention(Backend& be, const float* q, const float* k, const float* v, int64_t tokens, int64_t n_heads,
                      int64_t n_kv_heads, int64_t head_dim, int64_t window, float* out);

}  // namespace sq::ops
