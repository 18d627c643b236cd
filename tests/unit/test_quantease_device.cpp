// QuantEase's sweeps resident on the device (quant/quantease_device.hpp), over the host stand-in device: the
// same codes, values, grid, outliers and per-sweep objective trace as the CPU solver, bit for bit, with the
// sweeps counted on the "device"; and the host sweeps when the budget cannot hold the layer.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "correlated_hessian.hpp"
#include "host_device_api.hpp"
#include "identical_layers.hpp"
#include "quant/quantease_device.hpp"
#include "quant/solver_quantease.hpp"

namespace {

struct Layer {
  int64_t rows, cols;
  std::vector<float> w, h;
  Layer(int64_t r, int64_t c, uint32_t seed) : rows(r), cols(c), w(size_t(r * c)) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    h = correlated_hessian(cols, 2.0f, rng, normal);
    for (auto& v : w) v = 0.02f * normal(rng) * (uniform(rng) < 0.005f ? 6.0f : 1.0f);  // a few heavy weights
  }
};

sq::QuantizeOptions options(int bits, int64_t group, int64_t sweeps = 7) {
  sq::QuantizeOptions o;
  o.method = "quantease";
  o.bits = bits;
  o.group_size = group;
  o.sweeps = sweeps;
  o.relax_sweeps = 4;  // sweeps 1 and 4 leave the grid
  return o;
}

// Quantizes on the CPU and over the stand-in device (budget in bytes), expects identical layers and traces,
// and returns the number of sweep blocks that ran on the device.
size_t same_as_cpu(const Layer& l, const sq::QuantizeOptions& o, uint64_t budget = uint64_t(1) << 30,
                   bool trace = true) {
  sq::test::HostDeviceBackend dev(budget);
  sq::QuantEaseDiagnostics d_ref, d_dev;
  const auto ref = sq::quantease_quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o,
                                                sq::null_logger(), trace ? &d_ref : nullptr);
  const auto out = sq::quantease_quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger(),
                                                trace ? &d_dev : nullptr);
  sqtest::expect_identical_layers(out, ref);
  EXPECT_EQ(d_dev.objective, d_ref.objective);
  EXPECT_EQ(d_dev.solver_objective, d_ref.solver_objective);
  EXPECT_EQ(d_dev.initial_solver_objective, d_ref.initial_solver_objective);
  EXPECT_EQ(d_dev.lambda_max, d_ref.lambda_max);
  EXPECT_EQ(d_dev.relaxed, d_ref.relaxed);
  EXPECT_EQ(dev.stats.sweeps_under_reduced, 0u);
  EXPECT_EQ(dev.stats.live_bytes, 0u);
  return dev.stats.quantease_blocks;
}

}  // namespace

TEST(QuantEaseDevice, SweepsGiveTheCpuBits) {
  const Layer l(48, 320, 3);  // 320 columns: blocks of 128, 128 and 64
  EXPECT_EQ(same_as_cpu(l, options(4, 128)), 7u * 3u);
  EXPECT_EQ(same_as_cpu(l, options(4, 128), uint64_t(1) << 30, /*trace=*/false), 7u * 3u);
  auto sym = options(3, -1, 5);  // per channel, symmetric
  sym.sym = true;
  EXPECT_EQ(same_as_cpu(l, sym), 5u * 3u);
  auto odd = options(2, 96, 4);  // groups that start inside a sweep block
  odd.relax_sweeps = 0;
  EXPECT_EQ(same_as_cpu(l, odd), 4u * 3u);
  auto from_gptq = options(3, 64, 4);  // the GPTQ start runs first (on the device too), then the sweeps
  from_gptq.init = "gptq";
  EXPECT_EQ(same_as_cpu(l, from_gptq), 4u * 3u);
  auto fp32 = options(8, 128, 3);
  fp32.scale_storage = sq::ScaleStorage::F32;
  EXPECT_EQ(same_as_cpu(Layer(16, 130, 5), fp32), 3u * 2u);  // a last block of 2 columns
}

TEST(QuantEaseDevice, OutlierStepsGiveTheCpuBits) {
  const Layer l(40, 256, 11);
  auto entries = options(3, -1, 6);
  entries.outlier_fraction = 0.01;
  EXPECT_EQ(same_as_cpu(l, entries), 6u * 2u);
  EXPECT_EQ(same_as_cpu(l, entries, uint64_t(1) << 30, /*trace=*/false), 6u * 2u);
  auto columns = options(4, 64, 5);
  columns.outlier_fraction = 0.02;
  columns.outlier_structure = "columns";
  EXPECT_EQ(same_as_cpu(l, columns), 5u * 2u);
}

TEST(QuantEaseDevice, ALayerOverTheBudgetSweepsOnTheHost) {
  const Layer l(48, 320, 3);
  // S alone is 400 KiB; with T, Q, G and T - Q (60 KiB each) the layer needs about 650 KiB.
  sq::test::HostDeviceBackend small(uint64_t(512) << 10);
  EXPECT_FALSE(sq::QuantEaseOnDevice::fits(*small.be, l.rows, l.cols, 3));
  EXPECT_EQ(same_as_cpu(l, options(4, 128), uint64_t(512) << 10), 0u);
  sq::test::HostDeviceBackend enough(uint64_t(1) << 20);
  EXPECT_TRUE(sq::QuantEaseOnDevice::fits(*enough.be, l.rows, l.cols, 3));
  EXPECT_FALSE(sq::QuantEaseOnDevice::fits(sq::default_cpu_backend(), l.rows, l.cols, 3));  // no device at all
}
