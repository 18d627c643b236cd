// Time to quantize one layer with QuantEase (30 sweeps) against GPTQ, at the SmolLM2-135M shapes
// (q/o 576x576, gate/up 1536x576, down 576x1536), with H from random correlated activations.
// Run: ./build/bin/bench_quantease
#include <benchmark/benchmark.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "quant/layer_quantizer.hpp"
#include "util/error.hpp"

namespace {

struct Problem {
  std::vector<float> w, h;
};

// X = Z + L R: i.i.d. noise plus a rank-32 shared component (a correlated H). H = 2/N X^T X.
const Problem& problem(int64_t rows, int64_t cols) {
  static std::map<std::pair<int64_t, int64_t>, Problem> cache;
  auto it = cache.find({rows, cols});
  if (it != cache.end()) return it->second;
  sq::Backend& be = sq::default_cpu_backend();
  const int64_t tokens = 2048, rank = 32;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(tokens * cols)), l(static_cast<size_t>(tokens * rank)),
      r(static_cast<size_t>(rank * cols));
  for (auto& v : x) v = normal(rng);
  for (auto& v : l) v = normal(rng);
  for (auto& v : r) v = 0.5f * normal(rng);
  be.gemm(false, false, tokens, cols, rank, 1.0f, l.data(), rank, r.data(), cols, 1.0f, x.data(), cols);
  Problem p;
  p.h.resize(static_cast<size_t>(cols * cols));
  be.syrk_ata(cols, tokens, 2.0f / float(tokens), x.data(), cols, 0.0f, p.h.data(), cols);
  p.w.resize(static_cast<size_t>(rows * cols));
  for (auto& v : p.w) v = 0.02f * normal(rng);
  return cache.emplace(std::make_pair(rows, cols), std::move(p)).first->second;
}

void quantize(benchmark::State& state, const char* method, double outlier_fraction) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const Problem& p = problem(rows, cols);
  sq::QuantizeOptions o;
  o.method = method;
  o.bits = 3;
  o.group_size = -1;
  o.outlier_fraction = outlier_fraction;
  o.compute_objective = false;
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
  b->Args({576, 576})->Args({1536, 576})->Args({576, 1536})->Unit(benchmark::kMillisecond)->Iterations(2);
}

}  // namespace

BENCHMARK_CAPTURE(quantize, gptq_3bit, "gptq", 0.0)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, quantease_3bit, "quantease", 0.0)->Apply(shapes);
BENCHMARK_CAPTURE(quantize, quantease_3bit_outliers_1pct, "quantease", 0.01)->Apply(shapes);
BENCHMARK_MAIN();
