// Whole-model evaluation on top of the block forward pass: logits of a sequence and perplexity of a
// token stream. Block weights are loaded one block at a time, so peak memory is one block's fp32 weights,
// the head, and the activations of the sequences in flight.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "io/model_config.hpp"
#include "io/weight_source.hpp"

namespace sq {

// Logits [n, vocab] of one sequence of n tokens (vocab = rows of the output matrix).
std::vector<float> model_logits(Backend& be, const WeightSource& src, const ModelConfig& cfg, const int32_t* tokens,
                                int64_t n);

struct PerplexityOptions {
  int64_t seq_len = 2048;       // tokens per window
  uint64_t max_tokens = 0;      // use at most this many tokens of the stream; 0 = all
  // Hidden states of several windows run through a block together (so each block is read once per batch);
  // a batch holds at most this many bytes of hidden states.
  uint64_t batch_bytes = uint64_t(256) << 20;
};

struct PerplexityResult {
  double perplexity = 0.0;     // exp(mean_nll)
  double mean_nll = 0.0;       // natural log, averaged over every predicted token
  uint64_t tokens_scored = 0;  // windows * (seq_len - 1)
  int64_t windows = 0;
};

// The GPTQ papers' protocol: the stream (capped at max_tokens) is cut into floor(n / seq_len) non-overlapping
// windows, the tail shorter than seq_len is dropped, each window is run from position 0, and every token but
// a window's first is predicted from the ones before it in that window.
PerplexityResult model_perplexity(Backend& be, const WeightSource& src, const ModelConfig& cfg, const int32_t* tokens,
                                  size_t n, const PerplexityOptions& opt);

// Sum over rows t of -log softmax(logits[t])[targets[t]], accumulated in double.
double sum_nll(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets);

}  // namespace sq
