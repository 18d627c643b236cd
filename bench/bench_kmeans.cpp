// Per-row cost of the weighted 1-D k-means solvers and of the loss-aware affine search on weight-like rows
// (Gaussian bulk, 0.2% outliers at 8 sigma, importance s_j = d_j^-4). Args: n (row length), k (centroids),
// bf16 (1: values rounded to bf16, which repeats values the way real checkpoints do).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "quant/grid_loss_aware_affine.hpp"
#include "quant/kmeans_1d.hpp"
#include "util/half.hpp"

namespace {

struct Row {
  std::vector<float> x, w;
};

Row make_row(int64_t n, bool bf16) {
  std::mt19937 rng(static_cast<uint32_t>(n));
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Row r{std::vector<float>(size_t(n)), std::vector<float>(size_t(n))};
  for (auto& v : r.x) {
    v = normal(rng);
    if (u(rng) < 0.002f) v *= 8.0f;
    if (bf16) v = sq::bf16_to_float(sq::float_to_bf16(v));
  }
  for (auto& v : r.w) v = std::pow(0.5f + u(rng), -4.0f);
  return r;
}

void run(benchmark::State& state, sq::KMeans1dMethod method) {
  const int64_t n = state.range(0);
  const int k = int(state.range(1));
  const Row row = make_row(n, state.range(2) != 0);
  sq::KMeans1dOptions opt;
  opt.method = method;
  sq::KMeans1dSolver solver(opt);
  for (auto _ : state) {
    sq::KMeans1dResult r = solver.solve(row.x.data(), row.w.data(), n, k);
    benchmark::DoNotOptimize(r.centroids.data());
    benchmark::ClobberMemory();
  }
  const double cost = solver.solve(row.x.data(), row.w.data(), n, k).cost;
  // Report the quality relative to the exact optimum next to the time.
  sq::KMeans1dOptions exact;
  exact.method = sq::KMeans1dMethod::Exact;
  const double best = sq::kmeans_1d(row.x.data(), row.w.data(), n, k, exact).cost;
  state.counters["gap_pct"] = 100.0 * (cost / best - 1.0);
}

void BM_Exact(benchmark::State& s) { run(s, sq::KMeans1dMethod::Exact); }
void BM_Lloyd(benchmark::State& s) { run(s, sq::KMeans1dMethod::Lloyd); }
void BM_CoarseLloyd(benchmark::State& s) { run(s, sq::KMeans1dMethod::CoarseLloyd); }

void args(benchmark::internal::Benchmark* b) {
  for (int bf16 : {0, 1})
    for (int64_t n : {4096, 11008})
      for (int64_t k : {4, 8, 16}) b->Args({n, k, bf16});
  b->Unit(benchmark::kMicrosecond);
}

// The loss-aware affine grid's search on the same rows (20 x 20 shrunk ranges). Args: n, bits, bf16.
void BM_LossAwareAffineRow(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Row row = make_row(n, state.range(2) != 0);
  sq::LossAwareAffineOptions opt;
  opt.bits = int(state.range(1));
  for (auto _ : state) {
    const auto p = sq::affine_search::fit_row(row.x.data(), row.w.data(), n, opt);
    benchmark::DoNotOptimize(p.scale);
  }
}

void affine_args(benchmark::internal::Benchmark* b) {
  for (int64_t n : {128, 4096, 11008})
    for (int64_t bits : {2, 3, 4}) b->Args({n, bits, 0});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_LossAwareAffineRow)->Apply(affine_args);
BENCHMARK(BM_Exact)->Apply(args);
BENCHMARK(BM_Lloyd)->Apply(args);
BENCHMARK(BM_CoarseLloyd)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
