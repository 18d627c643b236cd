// CLAQ's sweep resident on the device (quant/solver_claq_device.hpp), over the host stand-in device: every
// column fitted by the portable team program on the "device" (the CUDA kernel's source), rounded there with
// its reserved outliers, and the same layer as the CPU bit for bit: codes, values, per-column levels, reserved
// outliers and objective. The budget decides between the device and the host sweep; a column that overflows
// within the sweep is a clear error.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "backend_parity.hpp"
#include "correlated_hessian.hpp"
#include "host_device_api.hpp"
#include "identical_layers.hpp"
#include "quant/grid_column_kmeans.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/quantize_options.hpp"
#include "quant/solver_claq_device.hpp"
#include "test_files.hpp"

namespace {

struct Layer {
  int64_t rows, cols;
  std::vector<float> w, h;
  Layer(int64_t r, int64_t c, uint32_t seed) : rows(r), cols(c) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    h = correlated_hessian(cols, 2.0f, rng, normal);
    w.resize(size_t(rows * cols));
    for (auto& v : w) {  // heavy-tailed, so adaptive precision and reservation have outliers to act on
      v = 0.02f * normal(rng);
      if (unit(rng) < 0.003f) v *= 20.0f;
    }
  }
};

sq::QuantizeOptions claq(const std::string& bits) { return sqtest::claq_options(bits); }

struct DeviceRun {
  size_t fits = 0, rounds = 0;
};

DeviceRun same_as_cpu(const Layer& l, const sq::QuantizeOptions& o, uint64_t budget = uint64_t(1) << 30) {
  sq::test::HostDeviceBackend dev(budget);
  const auto ref = sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o,
                                      sq::null_logger());
  const auto out = sq::quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger());
  sqtest::expect_identical_layers(out, ref);
  EXPECT_EQ(dev.stats.live_bytes, 0u);
  return DeviceRun{dev.stats.claq_fits, dev.stats.claq_rounds};
}

}  // namespace

// Uniform 3 bits, and fractional targets (2 and 4 bits mixed, with reserved outliers), with act-order.
TEST(ClaqDeviceSweep, SameLayerAsTheCpuOnShortColumns) {
  const Layer l(96, 300, 3);
  for (const char* bits : {"3", "2.12", "3.5"}) {
    const DeviceRun run = same_as_cpu(l, claq(bits));
    EXPECT_EQ(run.fits, 300u) << bits;  // one fit and one rounding per column, all on the device
    EXPECT_EQ(run.rounds, 300u) << bits;
  }
  auto act = claq("2.12");
  act.act_order = true;
  act.block_size = 40;  // sweep blocks that do not divide the columns
  EXPECT_EQ(same_as_cpu(l, act).fits, 300u);
}

// Columns taller than the coarse-bin threshold (512 distinct values): coarse program, then Lloyd steps.
TEST(ClaqDeviceSweep, SameLayerAsTheCpuOnTallColumns) {
  const Layer l(1100, 136, 5);
  auto o = claq("2.12");
  o.reserve_fraction = 0.01;
  o.reserve_fraction_rest = 0.002;
  EXPECT_EQ(same_as_cpu(l, o).fits, 136u);
  EXPECT_EQ(same_as_cpu(l, claq("4")).fits, 136u);
}

// A budget that cannot hold the layer sweeps on the host, with the same result; the check says so before
// anything is allocated.
TEST(ClaqDeviceSweep, ALayerOverTheBudgetSweepsOnTheHost) {
  const Layer l(96, 300, 8);
  EXPECT_EQ(same_as_cpu(l, claq("2.12"), 64 << 10).fits, 0u);
  sq::test::HostDeviceBackend dev(64 << 10);
  const sq::ColumnKMeansGrid grid(96, std::vector<uint8_t>(300, 3), std::vector<int32_t>(300, 0));
  EXPECT_FALSE(sq::claq_sweep_fits_device(*dev.be, grid, 96, 300, 128));
  sq::test::HostDeviceBackend roomy(uint64_t(1) << 30);
  EXPECT_TRUE(sq::claq_sweep_fits_device(*roomy.be, grid, 96, 300, 128));
  EXPECT_FALSE(sq::claq_sweep_fits_device(*roomy.be, grid, 96, 300, 512));  // over the sweep kernel's block
  EXPECT_FALSE(sq::claq_sweep_fits_device(sq::default_cpu_backend(), grid, 96, 300, 128));
}

// The layer API refuses non-finite weights, but error feedback can overflow within the sweep: a column the
// device fits then holds inf, and the sweep reports it by working column instead of returning NaN levels.
TEST(ClaqDeviceSweep, NonFiniteWeightInAColumnIsAnError) {
  const int64_t rows = 8, cols = 40;
  std::vector<float> w(size_t(rows * cols), 0.5f), u(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) u[size_t(i * cols + i)] = 1.0f;
  w[size_t(3 * cols + 17)] = INFINITY;  // row 3, working column 17
  sq::ColumnKMeansGrid grid(rows, std::vector<uint8_t>(size_t(cols), 2), std::vector<int32_t>(size_t(cols), 1));
  std::vector<uint8_t> codes(size_t(rows * cols));
  sq::test::HostDeviceBackend dev(uint64_t(1) << 30);
  sqtest::expect_error(
      [&] { sq::claq_sweep_on_device(*dev.be->device(), w.data(), rows, cols, u.data(), grid, codes.data(), 128); },
      SQ_ERR_NUMERIC, {"working column 17", "non-finite"});
  EXPECT_EQ(dev.stats.live_bytes, 0u);
}
