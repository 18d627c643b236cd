// The GPTQ sweep with affine grids resident on the device (quant/solver_gptq_device.hpp), over the host
// stand-in device: which layers take it, identical codes, values and grid parameters to the CPU sweep, the
// budget fallback, and the fp16 scale error.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "backend/offload/offload_backend.hpp"
#include "correlated_hessian.hpp"
#include "host_device_api.hpp"
#include "quant/layer_quantizer.hpp"
#include "test_files.hpp"
#include "util/error.hpp"

namespace {

struct HostDevice : sq::test::HostDeviceBackend {
  explicit HostDevice(uint64_t budget = uint64_t(1) << 30) : HostDeviceBackend(budget) {}
};

struct Layer {
  int64_t rows = 96, cols = 320;  // 320 = 2.5 sweep blocks of 128 and 2.5 groups of 128
  std::vector<float> w, h;
  explicit Layer(uint32_t seed, float scale = 0.02f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    h = correlated_hessian(cols, 2.0f, rng, normal);
    w.resize(size_t(rows * cols));
    for (auto& v : w) v = scale * normal(rng);
  }
};

sq::QuantizeOptions options(const std::string& method, int bits, int64_t group) {
  sq::QuantizeOptions o;
  o.method = method;
  o.bits = bits;
  o.group_size = group;
  return o;
}

// Quantizes on the CPU and on the stand-in device; returns the number of device sweep blocks run (and the
// loss-aware group fits done on the device in *loss_aware_fits).
size_t expect_same_as_cpu(const sq::QuantizeOptions& o, uint64_t budget = uint64_t(1) << 30,
                          size_t* loss_aware_fits = nullptr) {
  const Layer l(7);
  HostDevice dev(budget);
  const auto ref = sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o,
                                      sq::null_logger());
  const auto out = sq::quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger());
  EXPECT_EQ(out.codes, ref.codes);
  EXPECT_EQ(out.dequant, ref.dequant);
  EXPECT_EQ(out.scales, ref.scales);
  EXPECT_EQ(out.zeros, ref.zeros);
  EXPECT_EQ(out.g_idx, ref.g_idx);
  EXPECT_EQ(out.objective, ref.objective);
  EXPECT_EQ(dev.stats.live_bytes, 0u);
  if (loss_aware_fits) *loss_aware_fits = dev.stats.loss_aware_fits;
  return dev.stats.sweep_blocks;
}

}  // namespace

TEST(GptqDeviceSweep, MinMaxGroupsFittedOnTheDevice) {
  EXPECT_EQ(expect_same_as_cpu(options("gptq", 4, 128)), 3u);  // ceil(320 / 128) blocks
  auto sym = options("gptq", 3, 64);
  sym.sym = true;
  EXPECT_EQ(expect_same_as_cpu(sym), 3u);
  auto odd = options("gptq", 2, 96);  // groups that start inside a sweep block
  odd.block_size = 40;
  EXPECT_EQ(expect_same_as_cpu(odd), 8u);
  auto act = options("gptq", 4, 128);
  act.act_order = true;
  act.scale_storage = sq::ScaleStorage::F32;
  EXPECT_EQ(expect_same_as_cpu(act), 3u);
}

TEST(GptqDeviceSweep, GroupsFittedBeforeTheSweepAreUploaded) {
  EXPECT_EQ(expect_same_as_cpu(options("gptq", 4, -1)), 3u);  // per channel
  auto st = options("gptq", 4, 128);
  st.act_order = st.static_groups = true;
  EXPECT_EQ(expect_same_as_cpu(st), 3u);
  auto lean = options("leanquant-affine", 4, 128);  // loss-aware grids, fitted up front with static groups
  lean.static_groups = true;
  EXPECT_EQ(expect_same_as_cpu(lean), 3u);
}

TEST(GptqDeviceSweep, LossAwareGroupsFittedOnTheDevice) {
  size_t fits = 0;
  EXPECT_EQ(expect_same_as_cpu(options("leanquant-affine", 4, 128), uint64_t(1) << 30, &fits), 3u);
  EXPECT_EQ(fits, 3u);  // one per group: 320 columns in groups of 128
  auto sym = options("leanquant-affine", 3, 64);
  sym.sym = true;
  EXPECT_EQ(expect_same_as_cpu(sym, uint64_t(1) << 30, &fits), 3u);
  EXPECT_EQ(fits, 5u);
  auto act = options("leanquant-affine", 4, 128);
  act.act_order = true;  // importance in the permuted working order
  EXPECT_EQ(expect_same_as_cpu(act, uint64_t(1) << 30, &fits), 3u);
}

TEST(GptqDeviceSweep, OtherGridsAndTightBudgetsSweepOnTheHost) {
  // 2-bit groups of 128: the CPU ranks candidates with sorted prefix sums (128 >= 32 << 2), whose rounding
  // the device does not reproduce.
  EXPECT_EQ(expect_same_as_cpu(options("leanquant-affine", 2, 128)), 0u);
  EXPECT_EQ(expect_same_as_cpu(options("leanquant", 3, -1)), 0u);  // LUT grid
  auto wide = options("gptq", 4, 128);
  wide.block_size = 512;  // more columns than the sweep kernel holds
  EXPECT_EQ(expect_same_as_cpu(wide), 0u);
  // U alone (320 x 320 fp32) is 400 KiB: with 600 KiB the Cholesky fits but W, U and the codes do not.
  EXPECT_EQ(expect_same_as_cpu(options("gptq", 4, 128), 600 << 10), 0u);
}

TEST(GptqDeviceSweep, ScaleOverTheFp16RangeIsAnError) {
  const Layer l(8, 1e6f);
  HostDevice dev;
  sqtest::expect_error(
      [&] {
        sq::quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), options("gptq", 4, 128), sq::null_logger());
      },
      SQ_ERR_NUMERIC, {"fp16 maximum 65504", "fp32"});
}
