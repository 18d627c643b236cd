#include "model/ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace sq::ops {
namespace {

// Spreading tiny loops over threads costs more than it saves: run them inline below this much work.
constexpr int64_t kMinParallelWork = int64_t(1) << 16;

void for_rows(Backend& be, int64_t rows, int64_t work_per_row, const std::function<void(int64_t, int64_t)>& fn) {
  if (rows * work_per_row < kMinParallelWork) {
    fn(0, rows);
  } else {
    be.parallel_for(rows, fn);
  }
}

// Query rows per attention tile: a tile's scores are rows x keys floats, and causality lets a tile skip
// every key after its last row, which halves the work compared to a full T x T product.
constexpr int64_t kQueryTile = 128;

}  // namespace

void rms_norm(Backend& be, const float* x, const float* weight, int64_t rows, int64_t dim, double eps, float* y) {
  for_rows(be, rows, dim, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      double sum_sq = 0.0;
      for (int64_t i = 0; i < dim; ++i) sum_sq += double(xr[i]) * double(xr[i]);
      // transformers rounds the variance to fp32 and applies rsqrt in fp32.
      const float variance = float(sum_sq / double(dim));
      const float inv_rms = 1.0f / std::sqrt(variance + float(eps));
      for (int64_t i = 0; i < dim; ++i) yr[i] = weight[i] * (xr[i] * inv_rms);
    }
  });
}

void linear(Backend& be, const float* x, int64_t tokens, int64_t in, const std::vector<float>& w, int64_t out,
            const std::vector<float>& bias, float* y, bool accumulate) {
  be.gemm(false, true, tokens, out, in, 1.0f, x, in, w.data(), in, accumulate ? 1.0f : 0.0f, y, out);
  if (bias.empty()) return;
  for_rows(be, tokens, out, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      for (int64_t j = 0; j < out; ++j) y[t * out + j] += bias[size_t(j)];
  });
}

void apply_rope(Backend& be, const RopeTables& rope, float* x, int64_t tokens, int64_t heads, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  for_rows(be, tokens, heads * head_dim, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float* c = rope.cos.data() + t * rope.half;
      const float* s = rope.sin.data() + t * rope.half;
      for (int64_t h = 0; h < heads; ++h) {
        float* v = x + (t * heads + h) * head_dim;
        // rotate_half: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), halves of the head, not pairs.
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = v[i], x2 = v[i + half];
          v[i] = x1 * c[i] - x2 * s[i];
          v[i + half] = x2 * c[i] + x1 * s[i];
        }
      }
    }
  });
}

void silu_mul(Backend& be, float* gate, const float* up, int64_t n) {
  const int64_t chunk = 4096;
  const int64_t chunks = (n + chunk - 1) / chunk;
  for_rows(be, chunks, chunk, [&](int64_t begin, int64_t end) {
    const int64_t stop = std::min(n, end * chunk);
    for (int64_t i = begin * chunk; i < stop; ++i) {
      const float g = gate[i];
      gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  });
}

void causal_attention(Backend& be, const float* q, const float* k, const float* v, int64_t tokens, int64_t n_heads,
                      int64_t n_kv_heads, int64_t head_dim, int64_t window, float* out) {
  const int64_t ldq = n_heads * head_dim, ldk = n_kv_heads * head_dim;
  const int64_t group = n_heads / n_kv_heads;
  const int64_t tiles = (tokens + kQueryTile - 1) / kQueryTile;
  const float scale = 1.0f / std::sqrt(float(head_dim));

  be.parallel_for(n_heads * tiles, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(size_t(std::min(kQueryTile, tokens) * tokens));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t h = item / tiles, kv = h / group;
      const int64_t r0 = (item % tiles) * kQueryTile, r1 = std::min(tokens, r0 + kQueryTile);
      const int64_t k0 = window > 0 ? std::max<int64_t>(0, r0 - window + 1) : 0;
      const int64_t rows = r1 - r0, keys = r1 - k0;
      float* s = scores.data();
      // S = scale * Q_h K_kv^T over keys [k0, r1).
      be.gemm(false, true, rows, keys, head_dim, scale, q + r0 * ldq + h * head_dim, ldq, k + k0 * ldk + kv * head_dim,
              ldk, 0.0f, s, keys);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = r0 + r;  // absolute query position: keys (i, ...) are in the future
        const int64_t lo = (window > 0 ? std::max<int64_t>(k0, i - window + 1) : k0) - k0, hi = i - k0 + 1;
        float* row = s + r * keys;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = lo; j < hi; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (int64_t j = lo; j < hi; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        for (int64_t j = 0; j < lo; ++j) row[j] = 0.0f;
        for (int64_t j = lo; j < hi; ++j) row[j] /= sum;
        for (int64_t j = hi; j < keys; ++j) row[j] = 0.0f;
      }
      // O_h = P V_kv.
      be.gemm(false, false, rows, head_dim, keys, 1.0f, s, keys, v + k0 * ldk + kv * head_dim, ldk, 0.0f,
              out + r0 * ldq + h * head_dim, ldq);
    }
  });
}

}  // namespace sq::ops
