// Time to quantize one layer (rtn, gptq, leanquant LUT, leanquant affine; 4-bit) at LLaMA-7B shapes, with
// H from random correlated activations. Run: ./build/bin/bench_layer --benchmark_filter=gptq
#include <benchmark/benchmark.h>

#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "quant/layer_quantizer.hpp"
#include "util/error.hpp"

namespace {

struct Problem {
  std::vector<float> w, h;
};

// X = Z + L R (tokens x cols): i.i.d. noise plus a rank-64 shared component, so H is correlated and
// well enough conditioned for the default damping. H = 2/N X^T X.
const Problem& problem(int64_t rows, int64_t cols) {
  static std::map<std::pair<int64_t, int64_t>, Problem> cache;
  auto it = cache.find({rows, cols});
  if (it != cache.end()) return it->second;
  sq::Backend& be = sq::default_cpu_backend();
  const int64_t tokens = 2048, rank = 64;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> x(size_t(tokens * cols)), l(size_t(tokens * rank)), r(size_t(rank * cols));
  for (auto& v : x) v = normal(rng);
  for (auto& v : l) v = normal(rng);
  for (auto& v : r) v = 0.5f * normal(rng);
  be.gemm(false, false, tokens, cols, rank, 1.0f, l.data(), rank, r.data(), cols, 1.0f, x.data(), cols);
  Problem p;
  p.h.resize(size_t(cols * cols));
  be.syrk_ata(cols, tokens, 2.0f / float(tokens), x.data(), cols, 0.0f, p.h.data(), cols);
  p.w.resize(size_t(rows * cols));
  for (auto& v : p.w) v = 0.02f * normal(rng);
  return cache.emplace(std::make_pair(rows, cols), std::move(p)).first->second;
}

void quantize(benchmark::State& state, const char* method, int64_t group_size) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const Problem& p = problem(rows, cols);
  sq::QuantizeOptions o;
  o.method = method;
  o.bits = 4;
  o.group_size = group_size;
  o.compute_objective = false;  // time the quantizer alone (the objective is one more GEMM)
  for (auto _ : state) {
    try {
      auto q = sq::quantize_layer(sq::default_cpu_backend(), p.w.data(), rows, cols, p.h.data(), o, sq::null_logger());
      benchmark::DoNotOptimize(q.codes.data());
    } catch (const sq::Error& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.counters["threads"] = sq::default_cpu_backend().threads();
}

void shapes(benchmark::internal::Benchmark* b) {
  b->Args({4096, 4096})->Args({11008, 4096})->Args({4096, 11008})->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(quantize, rtn_g128, "rtn", 128)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, gptq_perchannel, "gptq", -1)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, gptq_g128, "gptq", 128)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, leanquant_lut, "leanquant", -1)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, leanquant_affine_perchannel, "leanquant-affine", -1)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, leanquant_affine_g128, "leanquant-affine", 128)->Apply(shapes);
BENCHMARK_MAIN();
