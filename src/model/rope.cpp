// RoPE tables. The arithmetic is kept in fp32 in the same order as transformers' rotary embedding
// (inverse frequencies in fp32, angle = fp32(position) * inv_freq rounded to fp32, then cos/sin): at a few
// thousand positions an angle computed in double would differ from the reference by ~1e-4 radians.
#include <cmath>

#include "model/llama_block.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr double kPi = 3.14159265358979323846;

// llama3 scaling (Llama 3.1): long wavelengths are slowed down by `factor`, short ones kept, and the band
// in between interpolated smoothly.
float llama3_scale(float inv_freq, const RopeScaling& rs) {
  const float old_len = float(rs.original_max_position_embeddings);
  const double low_freq_wavelen = double(rs.original_max_position_embeddings) / rs.low_freq_factor;
  const double high_freq_wavelen = double(rs.original_max_position_embeddings) / rs.high_freq_factor;
  const float two_pi = float(2.0 * kPi);
  const float wavelen = (1.0f / inv_freq) * two_pi;
  const float factor = float(rs.factor);
  const float scaled = double(wavelen) > low_freq_wavelen ? inv_freq / factor : inv_freq;
  const bool medium = !(double(wavelen) < high_freq_wavelen) && !(double(wavelen) > low_freq_wavelen);
  if (!medium) return scaled;
  const float smooth = ((1.0f / wavelen) * old_len - float(rs.low_freq_factor)) /
                       float(rs.high_freq_factor - rs.low_freq_factor);
  return (1.0f - smooth) * scaled / factor + smooth * scaled;
}

}  // namespace

RopeTables make_rope_tables(const ModelConfig& cfg, int64_t max_tokens) {
  if (cfg.head_dim <= 0 || cfg.head_dim % 2 != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "RoPE: head_dim must be positive and even, got ", cfg.head_dim);
  if (max_tokens < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "RoPE: max_tokens must not be negative, got ", max_tokens);
  RopeTables t;
  t.max_tokens = max_tokens;
  t.half = cfg.head_dim / 2;
  std::vector<float> inv_freq(size_t(t.half));
  const float theta = float(cfg.rope_theta);
  for (int64_t i = 0; i < t.half; ++i) {
    const float exponent = float(2 * i) / float(cfg.head_dim);
    float f = 1.0f / std::pow(theta, exponent);
    if (cfg.rope_scaling) f = llama3_scale(f, *cfg.rope_scaling);
    inv_freq[size_t(i)] = f;
  }
  t.cos.resize(size_t(max_tokens * t.half));
  t.sin.resize(size_t(max_tokens * t.half));
  for (int64_t p = 0; p < max_tokens; ++p)
    for (int64_t i = 0; i < t.half; ++i) {
      const float angle = float(p) * inv_freq[size_t(i)];
      t.cos[size_t(p * t.half + i)] = float(std::cos(double(angle)));
      t.sin[size_t(p * t.half + i)] = float(std::sin(double(angle)));
    }
  return t;
}

}  // namespace sq
