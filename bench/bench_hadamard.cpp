// FWHT throughput: block-wise Hadamard rotation of every row of a 4096 x 4096 fp32 matrix.
//   ./build/bin/bench_hadamard --benchmark_counter_tabular=true
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "quant/hadamard.hpp"

namespace {

constexpr int64_t kRows = 4096, kCols = 4096;

std::vector<float> random_matrix() {
  std::mt19937 gen(1);
  std::normal_distribution<float> nd;
  std::vector<float> w(size_t(kRows * kCols));
  for (auto& v : w) v = nd(gen);
  return w;
}

// Args: Hadamard block size h, threads.
void BM_RotateRows(benchmark::State& state) {
  const int64_t h = state.range(0);
  const int threads = int(state.range(1));
  std::vector<float> w = random_matrix();
  for (auto _ : state) {
    sq::hadamard_rotate_rows(w.data(), kRows, kCols, kCols, h, nullptr, sq::HadamardScale::Orthonormal, threads);
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
  const double elems = double(kRows * kCols) * double(state.iterations());
  state.SetBytesProcessed(int64_t(elems * sizeof(float)));
  state.counters["Melem/s"] = benchmark::Counter(elems / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RotateRows)
    ->ArgsProduct({{512, 1024, 4096}, {1, 2}})
    ->ArgNames({"h", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The bare transform on one vector that stays in L1: the butterfly kernel without memory traffic.
void BM_FwhtVector(benchmark::State& state) {
  const int64_t h = state.range(0);
  std::vector<float> x(size_t(h), 1.0f);
  for (auto _ : state) {
    sq::fwht_inplace(x.data(), h, sq::HadamardScale::Orthonormal);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["Melem/s"] = benchmark::Counter(double(h) * double(state.iterations()) / 1e6,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FwhtVector)->Arg(512)->Arg(1024)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
