// The GPTQ sweep resident on the device (quant/solver_gptq_device.hpp), over the host stand-in device, with
// affine and LUT grids: which layers take it, identical codes, values and grid parameters to the CPU sweep,
// the budget fallback, and the fp16 scale and non-finite errors.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "backend/offload/offload_backend.hpp"
#include "correlated_hessian.hpp"
#include "host_device_api.hpp"
#include "identical_layers.hpp"
#include "quant/group_schedule.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/solver_gptq_device.hpp"
#include "test_files.hpp"
#include "util/error.hpp"

namespace {

struct HostDevice : sq::test::HostDeviceBackend {
  explicit HostDevice(uint64_t budget = uint64_t(1) << 30) : HostDeviceBackend(budget) {}
};

struct Layer {
  int64_t rows = 96, cols;  // 320 = 2.5 sweep blocks of 128 and 2.5 groups of 128
  std::vector<float> w, h;
  explicit Layer(uint32_t seed, float scale = 0.02f, int64_t n_cols = 320) : cols(n_cols) {
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

// What the stand-in device ran for one layer.
struct DeviceRun {
  size_t blocks = 0, loss_aware_fits = 0, lut_fits = 0, lut_launches = 0, gaussian_fits = 0, rotations = 0;
  size_t loss_aware_team_fits = 0, loss_aware_team_launches = 0, minmax_fits = 0;
};

// Quantizes on the CPU and on the stand-in device, expects the same layer, and says what ran on the device.
// With dead_inputs, three columns get no calibration signal (zero Hessian rows and columns).
DeviceRun same_as_cpu(const sq::QuantizeOptions& o, uint64_t budget = uint64_t(1) << 30, int64_t cols = 320,
                      bool dead_inputs = false) {
  Layer l(7, 0.02f, cols);
  if (dead_inputs)
    for (const int64_t d : {int64_t(5), int64_t(77), cols - 3})
      for (int64_t j = 0; j < cols; ++j) l.h[size_t(d * cols + j)] = l.h[size_t(j * cols + d)] = 0.0f;
  HostDevice dev(budget);
  const auto ref = sq::quantize_layer(sq::default_cpu_backend(), l.w.data(), l.rows, l.cols, l.h.data(), o,
                                      sq::null_logger());
  const auto out = sq::quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), o, sq::null_logger());
  sqtest::expect_identical_layers(out, ref);
  EXPECT_EQ(dev.stats.live_bytes, 0u);
  return DeviceRun{dev.stats.sweep_blocks,  dev.stats.loss_aware_fits, dev.stats.lut_fits,
                   dev.stats.lut_launches,  dev.stats.gaussian_fits,   dev.stats.hadamard_rotations,
                   dev.stats.loss_aware_team_fits, dev.stats.loss_aware_team_launches, dev.stats.minmax_fits};
}

size_t expect_same_as_cpu(const sq::QuantizeOptions& o, uint64_t budget = uint64_t(1) << 30) {
  return same_as_cpu(o, budget).blocks;
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

TEST(GptqDeviceSweep, AffineGroupsFittedBeforeTheSweepAreFittedOnTheDeviceToo) {
  DeviceRun run = same_as_cpu(options("gptq", 4, -1));  // per channel: one fit of all 320 columns
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.minmax_fits, 1u);
  auto st = options("gptq", 4, 128);
  st.act_order = st.static_groups = true;  // three groups on the original column order, before the permutation
  run = same_as_cpu(st);
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.minmax_fits, 3u);
  // Per channel the fit sees W before its dead columns are zeroed, static groups after (as on the CPU).
  EXPECT_EQ(same_as_cpu(options("gptq", 3, -1), uint64_t(1) << 30, 320, true).minmax_fits, 1u);
  EXPECT_EQ(same_as_cpu(st, uint64_t(1) << 30, 320, true).minmax_fits, 3u);
  auto lean = options("leanquant-affine", 4, 128);  // loss-aware grids, with static groups
  lean.static_groups = true;
  run = same_as_cpu(lean);
  EXPECT_EQ(run.loss_aware_fits, 3u);
  EXPECT_EQ(run.loss_aware_team_fits, 0u);
  lean.act_order = true;
  EXPECT_EQ(same_as_cpu(lean, uint64_t(1) << 30, 320, true).loss_aware_fits, 3u);
  // Per channel at 2 bits, 320 >= 32 << 2: the sorted regime's team program, with and without importance.
  run = same_as_cpu(options("leanquant-affine", 2, -1), uint64_t(1) << 30, 320, true);
  EXPECT_EQ(run.loss_aware_team_fits, 1u);
  auto plain = options("leanquant-affine", 3, -1);
  plain.importance = "none";
  plain.sym = true;
  EXPECT_EQ(same_as_cpu(plain, uint64_t(1) << 30, 700).loss_aware_team_fits, 1u);
  // 4-bit rows of 320 are in the CPU's direct-sum regime, wider than the warp kernel's: the team program too.
  run = same_as_cpu(options("leanquant-affine", 4, -1));
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.loss_aware_team_fits, 1u);
}

TEST(GptqDeviceSweep, LossAwareGroupsFittedOnTheDevice) {
  DeviceRun run = same_as_cpu(options("leanquant-affine", 4, 128));
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.loss_aware_fits, 3u);  // one per group: 320 columns in groups of 128
  auto sym = options("leanquant-affine", 3, 64);
  sym.sym = true;
  run = same_as_cpu(sym);
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.loss_aware_fits, 5u);
  auto act = options("leanquant-affine", 4, 128);
  act.act_order = true;  // importance in the permuted working order
  EXPECT_EQ(expect_same_as_cpu(act), 3u);
  EXPECT_EQ(same_as_cpu(act).loss_aware_team_fits, 0u);  // 128 < 32 << 4: the direct-sum warp kernel
}

TEST(GptqDeviceSweep, LossAwareGroupsInTheSortedRegimeFittedOnTheDevice) {
  // 2-bit groups of 128 (128 >= 32 << 2): the CPU ranks candidates by sorted prefix sums, and so does the
  // team program; the last group (64 of 320 columns) is in the direct-sum regime.
  DeviceRun run = same_as_cpu(options("leanquant-affine", 2, 128));
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.loss_aware_fits, 3u);
  EXPECT_EQ(run.loss_aware_team_fits, 2u);
  EXPECT_EQ(run.loss_aware_team_launches, 2u);  // the budget holds every row's scratch
  auto sym = options("leanquant-affine", 2, 160);
  sym.sym = true;
  sym.block_size = 40;  // groups that start inside a sweep block
  run = same_as_cpu(sym);
  EXPECT_EQ(run.loss_aware_team_fits, 2u);
  auto act = options("leanquant-affine", 2, 128);
  act.act_order = true;
  act.scale_storage = sq::ScaleStorage::F32;
  EXPECT_EQ(same_as_cpu(act).loss_aware_team_fits, 2u);
  auto plain = options("leanquant-affine", 3, 256);
  plain.importance = "none";
  run = same_as_cpu(plain, uint64_t(1) << 30, 700);  // groups 256, 256, then 188 columns (direct sum)
  EXPECT_EQ(run.loss_aware_fits, 3u);
  EXPECT_EQ(run.loss_aware_team_fits, 2u);
  // The scratch of every row does not fit beside the layer: the rows are fitted a few at a time.
  run = same_as_cpu(options("leanquant-affine", 2, 128), 1450 << 10);
  EXPECT_EQ(run.loss_aware_team_fits, 2u);
  EXPECT_GT(run.loss_aware_team_launches, 2u);
}

TEST(GptqDeviceSweep, WideDirectSumLossAwareGroupsFittedOnTheDeviceByTeams) {
  // 4-bit groups of 384 (384 < 32 << 4: the CPU sums directly), wider than the warp kernel's rows: one thread
  // block per row, every candidate's direct sum on its own thread. 700 columns: 384, then 316.
  DeviceRun run = same_as_cpu(options("leanquant-affine", 4, 384), uint64_t(1) << 30, 700);
  EXPECT_EQ(run.blocks, 6u);
  EXPECT_EQ(run.loss_aware_team_fits, 2u);
  auto eight = options("leanquant-affine", 8, 512);  // 8 bits: direct below 8192 values
  eight.sym = true;
  eight.act_order = true;
  run = same_as_cpu(eight, uint64_t(1) << 30, 700);
  EXPECT_EQ(run.loss_aware_fits, 2u);
  EXPECT_EQ(run.loss_aware_team_fits, 1u);  // the last group, 188 columns, on the warp kernel
}

TEST(GptqDeviceSweep, LutGroupsFittedOnTheDevice) {
  DeviceRun run = same_as_cpu(options("leanquant", 4, 128));  // the default method
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.lut_fits, 3u);
  EXPECT_EQ(run.lut_launches, 3u);  // the budget holds every row's scratch: one launch per group
  run = same_as_cpu(options("leanquant", 3, 64));
  EXPECT_EQ(run.lut_fits, 5u);
  auto odd = options("leanquant", 2, 96);  // groups that start inside a sweep block
  odd.block_size = 40;
  EXPECT_EQ(same_as_cpu(odd).blocks, 8u);
  auto act = options("leanquant", 4, 128);
  act.act_order = true;
  EXPECT_EQ(same_as_cpu(act).lut_fits, 3u);
  run = same_as_cpu(options("leanquant", 8, 128));  // 256 levels, more than a group has values
  EXPECT_EQ(run.lut_fits, 3u);
  auto plain = options("leanquant", 4, 128);
  plain.importance = "none";
  EXPECT_EQ(same_as_cpu(plain).lut_fits, 3u);
}

// Groups over 512 values, where the CPU k-means starts from coarse bins and runs Lloyd steps: a thread block
// per row on the device (the team program), and the last, narrower group by one thread per row.
TEST(GptqDeviceSweep, WideLutGroupsFittedOnTheDeviceByTeams) {
  EXPECT_EQ(same_as_cpu(options("leanquant", 4, 640), uint64_t(1) << 30, 640).lut_fits, 1u);
  EXPECT_EQ(same_as_cpu(options("leanquant", 3, 600), uint64_t(1) << 30, 1000).lut_fits, 2u);  // 600 + 400 columns
  EXPECT_EQ(same_as_cpu(options("leanquant", 4, 512), uint64_t(1) << 30, 640).lut_fits, 2u);  // 512 still exact
  const DeviceRun tight = same_as_cpu(options("leanquant", 2, 700), uint64_t(12) << 20, 700);  // scratch split
  EXPECT_EQ(tight.lut_fits, 1u);
  EXPECT_GT(tight.lut_launches, 1u);
}

TEST(GptqDeviceSweep, LutFitScratchIsSplitUnderATightBudget) {
  // W, U, codes and the LUTs take about 640 KiB; half of what is left holds the k-means scratch of 16 rows
  // (11.2 KiB each for 128 values and 16 levels), so each group's 96 rows are fitted in several launches.
  const DeviceRun run = same_as_cpu(options("leanquant", 4, 128), uint64_t(1) << 20);
  EXPECT_EQ(run.lut_fits, 3u);
  EXPECT_GT(run.lut_launches, 3u * 3u);
  EXPECT_EQ(run.blocks, 3u);
}

TEST(GptqDeviceSweep, LutGroupsFittedBeforeTheSweepAreFittedOnTheDeviceToo) {
  DeviceRun run = same_as_cpu(options("leanquant", 3, -1));  // per channel: one fit of all 320 columns
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.lut_fits, 1u);
  auto st = options("leanquant", 4, 128);
  st.act_order = st.static_groups = true;  // three groups on the original column order, before the permutation
  run = same_as_cpu(st);
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.lut_fits, 3u);
  auto plain = options("leanquant", 4, -1);
  plain.importance = "none";
  EXPECT_EQ(same_as_cpu(plain).lut_fits, 1u);
  // Rows wider than the exact fit's 512 values: a thread block per row. Per channel the fit sees W before its
  // dead columns are zeroed, static groups after (as on the CPU).
  EXPECT_EQ(same_as_cpu(options("leanquant", 4, -1), uint64_t(1) << 30, 700, true).lut_fits, 1u);
  EXPECT_EQ(same_as_cpu(st, uint64_t(1) << 30, 320, true).lut_fits, 3u);
}

TEST(GptqDeviceSweep, HiggsGaussianGroupsFittedOnTheDevice) {
  // higgs-gptq: the sweep on the Hadamard-rotated layer (320 columns padded to 384 for h = 128).
  auto o = options("higgs-gptq", 4, -1);
  o.hadamard_size = 128;
  DeviceRun run = same_as_cpu(o);
  EXPECT_EQ(run.blocks, 3u);
  EXPECT_EQ(run.gaussian_fits, 3u);  // one scale per row and Hadamard block
  EXPECT_EQ(run.rotations, 3u);      // W's rows, then H's rows twice
  o.group_size = 64;
  o.bits = 3;
  o.random_signs = true;
  o.scale_storage = sq::ScaleStorage::F32;
  run = same_as_cpu(o);
  EXPECT_EQ(run.gaussian_fits, 6u);
  o.bits = 2;
  o.block_size = 40;  // groups that start inside a sweep block
  EXPECT_EQ(same_as_cpu(o).blocks, 10u);
}

TEST(GptqDeviceSweep, OtherGridsAndTightBudgetsSweepOnTheHost) {
  auto wide = options("gptq", 4, 128);
  wide.block_size = 512;  // more columns than the sweep kernel holds
  EXPECT_EQ(expect_same_as_cpu(wide), 0u);
  // U alone (320 x 320 fp32) is 400 KiB: with 600 KiB the Cholesky fits but W, U and the codes do not.
  EXPECT_EQ(expect_same_as_cpu(options("gptq", 4, 128), 600 << 10), 0u);
  EXPECT_EQ(expect_same_as_cpu(options("leanquant", 4, 128), 600 << 10), 0u);
}

TEST(GptqDeviceSweep, ScaleOverTheFp16RangeIsAnError) {
  const Layer l(8, 1e6f);
  HostDevice dev;
  sqtest::expect_error(
      [&] {
        sq::quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), options("gptq", 4, 128), sq::null_logger());
      },
      SQ_ERR_NUMERIC, {"fp16 maximum 65504", "fp32"});
  const size_t fits = dev.stats.minmax_fits;
  sqtest::expect_error(  // per channel: fitted before the sweep, on the device too
      [&] {
        sq::quantize_layer(*dev.be, l.w.data(), l.rows, l.cols, l.h.data(), options("gptq", 4, -1), sq::null_logger());
      },
      SQ_ERR_NUMERIC, {"fp16 maximum 65504", "fp32"});
  EXPECT_EQ(dev.stats.minmax_fits, fits + 1);
  EXPECT_EQ(dev.stats.live_bytes, 0u);
}

TEST(GptqDeviceSweep, NonFiniteWeightInALutGroupIsAnError) {
  // The layer API refuses non-finite inputs, but error feedback can overflow within the sweep: a group the
  // device fits then holds inf, and the sweep reports it instead of returning NaN levels.
  const int64_t rows = 8, cols = 256;
  std::vector<float> w(size_t(rows * cols), 0.5f), u(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) u[size_t(i * cols + i)] = 1.0f;
  w[size_t(3 * cols + 200)] = INFINITY;  // row 3, group 1
  const sq::GroupSchedule schedule = sq::make_group_schedule(cols, 128, false, {});
  ASSERT_TRUE(schedule.fit_during_sweep);
  sq::QuantizedLayer params;
  params.lut.assign(size_t(schedule.n_groups * rows * 16), 0.0f);
  std::vector<uint8_t> codes(size_t(rows * cols));
  sq::DeviceSweepGrid grid;
  grid.fit = sq::DeviceGroupFit::LutKMeans;
  HostDevice dev;
  sqtest::expect_error(
      [&] {
        sq::gptq_sweep_on_device(*dev.be->device(), w.data(), rows, cols, u.data(), schedule, grid, params,
                                 codes.data(), 128);
      },
      SQ_ERR_NUMERIC, {"row 3, group 1", "non-finite"});
  EXPECT_EQ(dev.stats.live_bytes, 0u);
}

TEST(GptqDeviceSweep, NonFiniteWeightInASortedLossAwareGroupIsAnError) {
  const int64_t rows = 8, cols = 256;
  std::vector<float> w(size_t(rows * cols), 0.5f), u(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) u[size_t(i * cols + i)] = 1.0f;
  w[size_t(5 * cols + 130)] = NAN;  // row 5, group 1
  const sq::GroupSchedule schedule = sq::make_group_schedule(cols, 128, false, {});
  sq::QuantizedLayer params;
  params.scales.assign(size_t(schedule.n_groups * rows), 0.0f);
  params.zeros = params.scales;
  std::vector<uint8_t> codes(size_t(rows * cols));
  sq::DeviceSweepGrid grid;
  grid.fit = sq::DeviceGroupFit::LossAware;
  grid.bits = 2;
  grid.storage = sq::ScaleStorage::F32;  // a NaN scale is not mistaken for an fp16 overflow
  HostDevice dev;
  sqtest::expect_error(
      [&] {
        sq::gptq_sweep_on_device(*dev.be->device(), w.data(), rows, cols, u.data(), schedule, grid, params,
                                 codes.data(), 128);
      },
      SQ_ERR_NUMERIC, {"row 5, group 1", "non-finite"});
  EXPECT_EQ(dev.stats.live_bytes, 0u);
  EXPECT_EQ(dev.stats.loss_aware_team_fits, 2u);
}
