// The Llama-family forward pass on a tiny random model: against a direct double-precision transcription of
// the block's equations, causality, GQA, RoPE scaling, the capture hook, logits and perplexity.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/backend.hpp"
#include "model/forward.hpp"
#include "model/llama_block.hpp"
#include "model/ops.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

namespace {

using sqtest::make_tiny_model;
using sqtest::random_tokens;
using sqtest::tiny_config;

// max |a - b| / max |b|
double max_rel_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

// ---- reference: the equations, written out in double with no shared code ----

double ref_inv_freq(const sq::ModelConfig& c, int64_t i) {
  double f = 1.0 / std::pow(c.rope_theta, double(2 * i) / double(c.head_dim));
  if (!c.rope_scaling) return f;
  const auto& rs = *c.rope_scaling;
  const double wavelen = 2.0 * 3.14159265358979323846 / f;
  const double low_wl = double(rs.original_max_position_embeddings) / rs.low_freq_factor;
  const double high_wl = double(rs.original_max_position_embeddings) / rs.high_freq_factor;
  if (wavelen < high_wl) return f;
  if (wavelen > low_wl) return f / rs.factor;
  const double smooth = (double(rs.original_max_position_embeddings) / wavelen - rs.low_freq_factor) /
                        (rs.high_freq_factor - rs.low_freq_factor);
  return (1.0 - smooth) * f / rs.factor + smooth * f;
}

std::vector<double> ref_rmsnorm(const std::vector<double>& x, const std::vector<float>& w, double eps) {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  const double r = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = double(w[i]) * x[i] * r;
  return y;
}

std::vector<double> ref_linear(const std::vector<double>& x, const std::vector<float>& w, size_t out,
                               const std::vector<float>& bias) {
  std::vector<double> y(out, 0.0);
  for (size_t o = 0; o < out; ++o) {
    for (size_t i = 0; i < x.size(); ++i) y[o] += double(w[o * x.size() + i]) * x[i];
    if (!bias.empty()) y[o] += bias[o];
  }
  return y;
}

// One block on hidden [T][H], in double.
void ref_block(const sq::ModelConfig& c, const sq::BlockWeights& w, std::vector<std::vector<double>>& hidden) {
  const size_t T = hidden.size(), hd = size_t(c.head_dim), nh = size_t(c.num_attention_heads);
  const size_t nkv = size_t(c.num_key_value_heads), half = hd / 2;
  std::vector<std::vector<double>> q(T), k(T), v(T);
  for (size_t t = 0; t < T; ++t) {
    const auto x = ref_rmsnorm(hidden[t], w.input_norm, c.rms_norm_eps);
    q[t] = ref_linear(x, w.q, nh * hd, w.q_bias);
    k[t] = ref_linear(x, w.k, nkv * hd, w.k_bias);
    v[t] = ref_linear(x, w.v, nkv * hd, w.v_bias);
    auto rotate = [&](std::vector<double>& vec, size_t heads, const std::vector<float>& norm) {
      for (size_t h = 0; h < heads; ++h) {
        std::vector<double> head(vec.begin() + long(h * hd), vec.begin() + long((h + 1) * hd));
        if (!norm.empty()) head = ref_rmsnorm(head, norm, c.rms_norm_eps);
        for (size_t i = 0; i < half; ++i) {
          const double a = double(t) * ref_inv_freq(c, int64_t(i));
          vec[h * hd + i] = head[i] * std::cos(a) - head[i + half] * std::sin(a);
          vec[h * hd + i + half] = head[i + half] * std::cos(a) + head[i] * std::sin(a);
        }
      }
    };
    rotate(q[t], nh, w.q_norm);
    rotate(k[t], nkv, w.k_norm);
  }
  for (size_t t = 0; t < T; ++t) {
    std::vector<double> attn(nh * hd, 0.0);
    for (size_t h = 0; h < nh; ++h) {
      const size_t g = h / (nh / nkv);
      std::vector<double> s(t + 1);
      double mx = -1e300, sum = 0.0;
      for (size_t j = 0; j <= t; ++j) {
        double d = 0.0;
        for (size_t i = 0; i < hd; ++i) d += q[t][h * hd + i] * k[j][g * hd + i];
        s[j] = d / std::sqrt(double(hd));
        mx = std::max(mx, s[j]);
      }
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (size_t j = 0; j <= t; ++j)
        for (size_t i = 0; i < hd; ++i) attn[h * hd + i] += s[j] / sum * v[j][g * hd + i];
    }
    const auto o = ref_linear(attn, w.o, hidden[t].size(), w.o_bias);
    for (size_t i = 0; i < o.size(); ++i) hidden[t][i] += o[i];
    const auto x = ref_rmsnorm(hidden[t], w.post_norm, c.rms_norm_eps);
    auto gate = ref_linear(x, w.gate, size_t(c.intermediate_size), {});
    const auto up = ref_linear(x, w.up, size_t(c.intermediate_size), {});
    for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
    const auto d = ref_linear(gate, w.down, hidden[t].size(), {});
    for (size_t i = 0; i < d.size(); ++i) hidden[t][i] += d[i];
  }
}

sq::ModelConfig variant(const std::string& which) {
  sq::ModelConfig c = tiny_config(which == "qwen2" ? "Qwen2ForCausalLM"
                                  : which == "qwen3" ? "Qwen3ForCausalLM"
                                                     : "LlamaForCausalLM");
  if (which == "llama3") {
    c.rope_scaling = sq::RopeScaling{"llama3", 8.0, 1.0, 4.0, 64};
    c.rope_theta = 500.0;  // small theta + short original length put frequencies in all three bands
  }
  if (which == "qwen3") c.o_bias = c.attention_bias = true;
  return c;
}

class BlockVsReference : public testing::TestWithParam<const char*> {};

TEST_P(BlockVsReference, MatchesDoublePrecisionEquations) {
  const sq::ModelConfig c = variant(GetParam());
  const auto src = make_tiny_model(c, 7);
  const sq::BlockWeights w = sq::load_block_weights(src, c, 1);
  EXPECT_EQ(w.q_bias.empty(), !c.attention_bias);
  EXPECT_EQ(w.q_norm.empty(), !c.qk_norm);
  const int64_t T = 150;  // more than one attention tile
  const auto ids = random_tokens(T, c.vocab_size, 3);
  std::vector<float> hidden(size_t(T * c.hidden_size));
  sq::embed_tokens(src, c, ids.data(), T, hidden.data());

  std::vector<std::vector<double>> ref(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    ref[size_t(t)].assign(hidden.begin() + t * c.hidden_size, hidden.begin() + (t + 1) * c.hidden_size);
  ref_block(c, w, ref);
  std::vector<double> flat;
  for (const auto& row : ref) flat.insert(flat.end(), row.begin(), row.end());

  const sq::RopeTables rope = sq::make_rope_tables(c, T);
  sq::block_forward(sq::default_cpu_backend(), c, w, rope, hidden.data(), T);
  EXPECT_LT(max_rel_diff(hidden, flat), 2e-5) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Variants, BlockVsReference, testing::Values("llama", "llama3", "qwen2", "qwen3"));

TEST(LlamaForward, RopeTablesMatchTheFormulaIncludingLlama3Bands) {
  sq::ModelConfig c = variant("llama3");
  c.head_dim = 64;
  const sq::RopeTables t = sq::make_rope_tables(c, 200);
  ASSERT_EQ(t.half, 32);
  int bands[3] = {0, 0, 0};  // kept, interpolated, divided by factor
  for (int64_t i = 0; i < t.half; ++i) {
    const double plain = 1.0 / std::pow(c.rope_theta, double(2 * i) / 64.0);
    const double f = ref_inv_freq(c, i);
    bands[f == plain ? 0 : std::fabs(f - plain / 8.0) < 1e-15 ? 2 : 1]++;
    for (int64_t p : {0, 1, 17, 199}) {
      EXPECT_NEAR(t.cos[size_t(p * t.half + i)], std::cos(double(p) * f), 2e-5) << "i " << i << " pos " << p;
      EXPECT_NEAR(t.sin[size_t(p * t.half + i)], std::sin(double(p) * f), 2e-5) << "i " << i << " pos " << p;
    }
  }
  EXPECT_GT(bands[0], 0);
  EXPECT_GT(bands[1], 0);
  EXPECT_GT(bands[2], 0);
}

TEST(LlamaForward, LogitsAreCausal) {
  const sq::ModelConfig c = variant("qwen3");
  const auto src = make_tiny_model(c, 11);
  auto a = random_tokens(40, c.vocab_size, 5);
  auto b = a;
  for (size_t i = 25; i < b.size(); ++i) b[i] = (b[i] + 7) % int32_t(c.vocab_size);
  const auto la = sq::model_logits(sq::default_cpu_backend(), src, c, a.data(), 40);
  const auto lb = sq::model_logits(sq::default_cpu_backend(), src, c, b.data(), 40);
  ASSERT_EQ(la.size(), size_t(40 * c.vocab_size));
  double before = 0.0, after = 0.0;
  for (int64_t t = 0; t < 40; ++t)
    for (int64_t j = 0; j < c.vocab_size; ++j) {
      const double d = std::fabs(la[size_t(t * c.vocab_size + j)] - lb[size_t(t * c.vocab_size + j)]);
      (t < 25 ? before : after) = std::max(t < 25 ? before : after, d);
    }
  EXPECT_LT(before, 1e-5);  // rows before the change see none of it
  EXPECT_GT(after, 1e-3);   // rows from the change on do
}

TEST(LlamaForward, GqaEqualsMultiHeadWithRepeatedKeyValueHeads) {
  const sq::ModelConfig gqa = tiny_config("LlamaForCausalLM", 4, 2);
  sq::ModelConfig mha = tiny_config("LlamaForCausalLM", 4, 4);
  auto src_gqa = make_tiny_model(gqa, 21);
  auto src_mha = make_tiny_model(mha, 21);
  // Copy every tensor, expanding k/v so that MHA head h holds GQA kv head h / 2.
  for (const auto& d : src_mha.tensors()) {
    auto& dst = src_mha.data(d.name);
    const auto& from = src_gqa.data(d.name);
    if (d.name.find("k_proj") == std::string::npos && d.name.find("v_proj") == std::string::npos) {
      dst = from;
      continue;
    }
    const size_t row = size_t(gqa.hidden_size) * size_t(gqa.head_dim);
    for (size_t h = 0; h < 4; ++h) std::copy_n(from.begin() + long((h / 2) * row), row, dst.begin() + long(h * row));
  }
  const auto ids = random_tokens(30, gqa.vocab_size, 8);
  const auto lg = sq::model_logits(sq::default_cpu_backend(), src_gqa, gqa, ids.data(), 30);
  const auto lm = sq::model_logits(sq::default_cpu_backend(), src_mha, mha, ids.data(), 30);
  std::vector<double> lmd(lm.begin(), lm.end());
  EXPECT_LT(max_rel_diff(lg, lmd), 1e-5);
}

TEST(LlamaForward, SlidingWindowOfOneAttendsToItself) {
  const int64_t T = 9, nh = 4, nkv = 2, hd = 4;
  const auto q = random_tokens(T * nh * hd, 7, 1), k = random_tokens(T * nkv * hd, 7, 2);
  const auto v = random_tokens(T * nkv * hd, 100, 3);
  std::vector<float> qf(q.begin(), q.end()), kf(k.begin(), k.end()), vf(v.begin(), v.end());
  std::vector<float> out(size_t(T * nh * hd));
  sq::ops::causal_attention(sq::default_cpu_backend(), qf.data(), kf.data(), vf.data(), T, nh, nkv, hd, 1, out.data());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < hd; ++i)
        EXPECT_FLOAT_EQ(out[size_t((t * nh + h) * hd + i)], vf[size_t((t * nkv + h / 2) * hd + i)]);
}

TEST(LlamaForward, CaptureSeesEachGroupAndStopAfterStops) {
  const sq::ModelConfig c = variant("llama");
  const auto src = make_tiny_model(c, 4);
  const sq::BlockWeights w = sq::load_block_weights(src, c, 0);
  const int64_t T = 12;
  const auto ids = random_tokens(T, c.vocab_size, 2);
  std::vector<float> hidden(size_t(T * c.hidden_size));
  sq::embed_tokens(src, c, ids.data(), T, hidden.data());
  const auto rope = sq::make_rope_tables(c, T);

  std::vector<std::pair<sq::LinearGroup, int64_t>> seen;
  std::vector<float> qkv_input;
  sq::CaptureFn fn = [&](sq::LinearGroup g, const float* x, int64_t tokens, int64_t in) {
    EXPECT_EQ(tokens, T);
    seen.emplace_back(g, in);
    if (g == sq::LinearGroup::QKV) qkv_input.assign(x, x + tokens * in);
  };
  auto h1 = hidden;
  sq::block_forward(sq::default_cpu_backend(), c, w, rope, h1.data(), T, &fn);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], std::make_pair(sq::LinearGroup::QKV, c.hidden_size));
  EXPECT_EQ(seen[1], std::make_pair(sq::LinearGroup::O, c.num_attention_heads * c.head_dim));
  EXPECT_EQ(seen[2], std::make_pair(sq::LinearGroup::GateUp, c.hidden_size));
  EXPECT_EQ(seen[3], std::make_pair(sq::LinearGroup::Down, c.intermediate_size));
  // The QKV input is the RMS-normalized hidden state: unit RMS once the norm weight is divided out.
  for (int64_t i = 0; i < c.hidden_size; ++i) qkv_input[size_t(i)] /= w.input_norm[size_t(i)];
  double ss = 0.0;
  for (int64_t i = 0; i < c.hidden_size; ++i) ss += double(qkv_input[size_t(i)]) * qkv_input[size_t(i)];
  EXPECT_NEAR(ss / double(c.hidden_size), 1.0, 1e-3);

  seen.clear();
  auto h2 = hidden;
  sq::block_forward(sq::default_cpu_backend(), c, w, rope, h2.data(), T, &fn, sq::LinearGroup::O);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].first, sq::LinearGroup::O);
}

TEST(LlamaForward, TiedHeadUsesTheEmbedding) {
  sq::ModelConfig c = variant("llama");
  c.tie_word_embeddings = true;
  auto src = make_tiny_model(c, 9);
  EXPECT_EQ(src.find("lm_head.weight"), SIZE_MAX);
  const auto ids = random_tokens(5, c.vocab_size, 1);
  const auto tied = sq::model_logits(sq::default_cpu_backend(), src, c, ids.data(), 5);
  // The same weights with the embedding copied to an explicit lm_head give the same logits untied.
  sqtest::MemorySource with_head;
  for (const auto& d : src.tensors()) with_head.add(d.name, d.shape, src.data(d.name));
  with_head.add("lm_head.weight", {c.vocab_size, c.hidden_size}, src.data("model.embed_tokens.weight"));
  c.tie_word_embeddings = false;
  const auto untied = sq::model_logits(sq::default_cpu_backend(), with_head, c, ids.data(), 5);
  EXPECT_EQ(tied, untied);
}

TEST(LlamaForward, PerplexityFollowsTheWindowProtocol) {
  const sq::ModelConfig c = variant("qwen2");
  const auto src = make_tiny_model(c, 13);
  const int64_t L = 16;
  const auto ids = random_tokens(3 * L + 5, c.vocab_size, 17);  // the 5-token tail is dropped

  double total = 0.0;
  for (int64_t wdx = 0; wdx < 3; ++wdx) {
    const auto logits = sq::model_logits(sq::default_cpu_backend(), src, c, ids.data() + wdx * L, L);
    total += sq::sum_nll(logits.data(), L - 1, c.vocab_size, ids.data() + wdx * L + 1);
  }
  sq::PerplexityOptions opt;
  opt.seq_len = L;
  const auto r = sq::model_perplexity(sq::default_cpu_backend(), src, c, ids.data(), ids.size(), opt);
  EXPECT_EQ(r.windows, 3);
  EXPECT_EQ(r.tokens_scored, uint64_t(3 * (L - 1)));
  // Equal up to fp32 rounding (the head's GEMM sees 15 rows here, 16 there).
  EXPECT_NEAR(r.perplexity, std::exp(total / double(3 * (L - 1))), 1e-6 * r.perplexity);

  opt.batch_bytes = 1;  // one window per batch: same numbers
  EXPECT_NEAR(sq::model_perplexity(sq::default_cpu_backend(), src, c, ids.data(), ids.size(), opt).perplexity,
              r.perplexity, 1e-9 * r.perplexity);
  opt.max_tokens = 2 * L + 3;
  EXPECT_EQ(sq::model_perplexity(sq::default_cpu_backend(), src, c, ids.data(), ids.size(), opt).windows, 2);
  opt.max_tokens = L - 1;
  EXPECT_THROW(sq::model_perplexity(sq::default_cpu_backend(), src, c, ids.data(), ids.size(), opt), sq::Error);
}

TEST(LlamaForward, SumNllMatchesLogSoftmax) {
  const std::vector<float> logits{1.0f, 2.0f, 3.0f, -1.0f, 0.0f, 1000.0f};
  const std::vector<int32_t> targets{0, 2};
  const double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 1.0;
  const double row1 = 0.0;  // the 1000 logit takes all the mass
  EXPECT_NEAR(sq::sum_nll(logits.data(), 2, 3, targets.data()), row0 + row1, 1e-9);
  const std::vector<int32_t> bad{3};
  EXPECT_THROW(sq::sum_nll(logits.data(), 1, 3, bad.data()), sq::Error);
}

TEST(LlamaForward, BadInputsAreErrorsNamingTheCause) {
  const sq::ModelConfig c = variant("llama");
  auto src = make_tiny_model(c, 1);
  const std::vector<int32_t> ids{1, 2, int32_t(c.vocab_size)};
  try {
    sq::model_logits(sq::default_cpu_backend(), src, c, ids.data(), 3);
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("position 2"), std::string::npos) << e.what();
  }
  sqtest::MemorySource broken;
  for (const auto& d : src.tensors()) {
    auto shape = d.shape;
    if (d.name == "model.layers.1.mlp.up_proj.weight") shape[0] += 1;
    broken.add(d.name, shape, src.data(d.name));
  }
  try {
    sq::load_block_weights(broken, c, 1);
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_FORMAT);
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
