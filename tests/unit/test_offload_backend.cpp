// The offload backend (large GEMM/SYRK/Cholesky staged on a device within a memory budget) over the host
// stand-in device: parity with the CPU reference for every operation, every tiling the budget forces, every
// quantization method and a whole job; the budget is never exceeded and running out of it is a clear error.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "backend/offload/device_memory.hpp"
#include "backend/offload/gemm_tiles.hpp"
#include "backend/offload/offload_backend.hpp"
#include "backend_parity.hpp"
#include "host_device_api.hpp"
#include "test_files.hpp"
#include "model/forward.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

namespace {

struct Offload : sq::test::HostDeviceBackend {
  // min_device_flops 0: even the tests' small operations go through the device path.
  explicit Offload(uint64_t budget, double min_flops = 0.0, int threads = 2)
      : HostDeviceBackend(budget, min_flops, threads) {}
  ~Offload() { EXPECT_EQ(stats.live_bytes, 0u) << "device memory leaked"; }
};

constexpr uint64_t kLarge = uint64_t(1) << 30;

}  // namespace

TEST(GemmTiles, WholeProblemWhenItFitsAndHalvesUntilItDoes) {
  const auto whole = sq::plan_gemm_tiles(100, 200, 300, kLarge, 256);
  EXPECT_EQ(whole.m, 100);
  EXPECT_EQ(whole.n, 200);
  EXPECT_EQ(whole.k, 300);
  for (uint64_t budget : {uint64_t(4096), uint64_t(50000), uint64_t(300000)}) {
    const auto t = sq::plan_gemm_tiles(1000, 700, 5000, budget, 256);
    ASSERT_GT(t.m, 0);
    auto r = [](uint64_t b) { return (b + 255) / 256 * 256; };
    EXPECT_LE(r(4 * t.m * t.k) + r(4 * t.k * t.n) + r(4 * t.m * t.n), budget) << budget;
  }
  // k is split last: with room for whole rows of A and B, only m and n shrink.
  const auto rows = sq::plan_gemm_tiles(4096, 4096, 64, 3u << 20, 256);
  EXPECT_EQ(rows.k, 64);
  EXPECT_LT(rows.m, 4096);
  EXPECT_EQ(sq::plan_gemm_tiles(10, 10, 10, 256, 256).m, 0) << "three 1x1 tiles need three granules";
}

TEST(OffloadBackend, GemmMatchesCpuForEveryTransposeAndTiling) {
  // Budgets: everything at once, and small enough to cut m, n and k into several tiles.
  for (uint64_t budget : {kLarge, uint64_t(64) << 10, uint64_t(8) << 10}) {
    Offload off(budget);
    int seed = 1;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 0.5f}) {
          EXPECT_LT(sqtest::gemm_error(*off.be, ta, tb, 97, 83, 151, beta, uint32_t(seed += 3)), 1e-5)
              << "budget " << budget << " ta " << ta << " tb " << tb << " beta " << beta;
        }
    EXPECT_LE(off.stats.peak_bytes, budget);
  }
}

TEST(OffloadBackend, SyrkMatchesCpuInChunksAndThroughTheGemmFallback) {
  // Room for H and all rows; for H and a few rows (chunks over k); not even for H (tiled GEMM).
  for (uint64_t budget : {kLarge, uint64_t(48) << 10, uint64_t(16) << 10}) {
    Offload off(budget);
    for (float beta : {0.0f, 1.0f})
      EXPECT_LT(sqtest::syrk_error(*off.be, 90, 301, beta, 7), 1e-5) << "budget " << budget << " beta " << beta;
    EXPECT_LE(off.stats.peak_bytes, budget);
  }
}

TEST(OffloadBackend, CholeskyAndInverseFactorMatchCpu) {
  Offload off(kLarge);
  EXPECT_LT(sqtest::cholesky_error(*off.be, 130, false, 3), 1e-5);
  EXPECT_LT(sqtest::cholesky_error(*off.be, 130, true, 4), 1e-4);
}

TEST(OffloadBackend, NotPositiveDefiniteIsFalseNotAnError) {
  Offload off(kLarge);
  std::vector<float> a(64 * 64, 0.0f);
  for (int i = 0; i < 64; ++i) a[size_t(i * 64 + i)] = i == 40 ? -1.0f : 1.0f;
  auto b = a;
  EXPECT_FALSE(off.be->cholesky_upper(a.data(), 64, 64));
  EXPECT_FALSE(off.be->cholesky_inverse_upper(b.data(), 64, 64));
}

TEST(OffloadBackend, OverBudgetNamesTheOperationTheSizeAndTheOption) {
  Offload off(uint64_t(32) << 10);  // 32 KiB: a 128 x 128 fp32 matrix (64 KiB) cannot be factored
  auto h = sqtest::spd_matrix(128, 2);
  sqtest::expect_error([&] { off.be->cholesky_inverse_upper(h.data(), 128, 128); }, SQ_ERR_OUT_OF_MEMORY,
                       {"hostdev:0", "Cholesky", "64.00 KiB", "32.00 KiB budget", "--gpu-mem-budget"});
  EXPECT_LE(off.stats.peak_bytes, uint64_t(32) << 10);
}

TEST(OffloadBackend, DeviceOutOfMemoryBelowTheBudgetIsAClearError) {
  Offload off(kLarge);
  off.stats.fail_above = 1024;  // the device gives less than the budget promises
  std::vector<float> a(64 * 64, 1.0f), c(64 * 64, 0.0f);
  sqtest::expect_error([&] { off.be->gemm(false, false, 64, 64, 64, 1.0f, a.data(), 64, a.data(), 64, 0.0f, c.data(), 64); },
                       SQ_ERR_OUT_OF_MEMORY, {"no memory left"});
}

TEST(OffloadBackend, BudgetCanBeChangedAndPeakIsReported) {
  Offload off(kLarge);
  EXPECT_EQ(off.be->device_memory_peak(), 0u);
  EXPECT_LT(sqtest::gemm_error(*off.be, false, false, 64, 64, 64, 0.0f, 5), 1e-5);
  EXPECT_EQ(off.be->device_memory_peak(), 3u * 64 * 64 * 4) << "A, B and C, each a multiple of 256 bytes";
  off.be->set_device_memory_budget(uint64_t(1) << 10);
  std::vector<float> h = sqtest::spd_matrix(64, 1);
  sqtest::expect_error([&] { off.be->cholesky_upper(h.data(), 64, 64); }, SQ_ERR_OUT_OF_MEMORY, {});
}

TEST(OffloadBackend, SmallOperationsStayOnTheHost) {
  Offload off(kLarge, double(1 << 26));
  EXPECT_LT(sqtest::gemm_error(*off.be, false, true, 32, 32, 32, 0.0f, 9), 1e-6);
  EXPECT_EQ(off.stats.uploads, 0u);
  EXPECT_LT(sqtest::gemm_error(*off.be, false, true, 512, 512, 512, 0.0f, 9), 1e-5);
  EXPECT_GT(off.stats.uploads, 0u);
}

TEST(OffloadBackend, GemmFromParallelWorkersIsSerializedCorrectly) {
  Offload off(uint64_t(64) << 10, 0.0, 4);
  std::atomic<int> bad{0};
  off.be->parallel_for(8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (!(sqtest::gemm_error(*off.be, i % 2 == 1, false, 40 + i, 33, 57, 0.5f, uint32_t(100 + i)) < 1e-5)) ++bad;
  });
  EXPECT_EQ(bad.load(), 0);
}

TEST(OffloadBackend, EveryMethodQuantizesALayerAsOnTheCpu) {
  Offload whole(kLarge);
  sqtest::expect_layer_parity(*whole.be, 64, 256, 11);
  Offload tiled(uint64_t(160) << 10);  // the 256 x 256 Hessian (256 KiB) does not fit: GEMMs are tiled
  // Cholesky of H needs H on the device: too small a budget is an error, not a silent fallback.
  sq::QuantizeOptions o;
  o.method = "gptq";
  sqtest::expect_error([&] { sqtest::layer_parity(*tiled.be, o, 64, 256, 11); }, SQ_ERR_OUT_OF_MEMORY, {});
  // H (256 KiB) and its factor fit; QuantEase's 64 x 256 x 256 GEMM (384 KiB of operands) is cut in tiles.
  Offload cut(uint64_t(320) << 10);
  sqtest::expect_layer_parity(*cut.be, 64, 256, 12, /*include_rotated=*/false);
  EXPECT_LE(cut.stats.peak_bytes, uint64_t(320) << 10);
}

TEST(OffloadBackend, JobAndPerplexityMatchTheCpuRun) {
  const auto cfg = sqtest::tiny_config();
  Offload off(kLarge);
  const auto ref = sqtest::tiny_gptq_job(sq::default_cpu_backend());
  const auto out = sqtest::tiny_gptq_job(*off.be);
  ASSERT_EQ(ref.size(), out.size());
  ASSERT_EQ(ref.size(), size_t(2 * 7));
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_LT(sqtest::relative_error(out[i], ref[i]), 1e-3) << "layer " << i;
  EXPECT_GT(off.stats.uploads, 0u);

  const auto src = sqtest::make_tiny_model(cfg, 21);
  const auto tokens = sqtest::random_tokens(96, cfg.vocab_size, 8);
  sq::PerplexityOptions po;
  po.seq_len = 32;
  const double p_ref = sq::model_perplexity(sq::default_cpu_backend(), src, cfg, tokens.data(), tokens.size(), po).perplexity;
  const size_t norms_before = off.stats.rms_norms;
  const double p_out = sq::model_perplexity(*off.be, src, cfg, tokens.data(), tokens.size(), po).perplexity;
  EXPECT_NEAR(p_out, p_ref, 1e-4 * p_ref);
  EXPECT_EQ(off.stats.rms_norms - norms_before, size_t(2 * 2 * 3)) << "2 norms x 2 blocks x 3 windows, resident";
  // Evaluation stays fp32 whatever the calibration forward may use (the stand-in really rounds bf16).
  off.be->set_forward_matmul(sq::MatmulInputs::BF16);
  EXPECT_EQ(sq::model_perplexity(*off.be, src, cfg, tokens.data(), tokens.size(), po).perplexity, p_out);
  // The LM head is uploaded once: three more windows add only their hidden states (one upload per block) and
  // the head's input rows (31 per window), not the head's 50 x 32 weights.
  off.be->set_forward_matmul(sq::MatmulInputs::FP32);
  const auto six_windows = sqtest::random_tokens(192, cfg.vocab_size, 8);
  const size_t before3 = off.stats.uploaded_bytes;
  sq::model_perplexity(*off.be, src, cfg, tokens.data(), tokens.size(), po);
  const size_t bytes3 = off.stats.uploaded_bytes - before3, before6 = off.stats.uploaded_bytes;
  sq::model_perplexity(*off.be, src, cfg, six_windows.data(), six_windows.size(), po);
  EXPECT_EQ(off.stats.uploaded_bytes - before6 - bytes3, size_t(3 * (2 * 32 * 32 + 31 * 32) * 4));
  // A budget too small for a resident block: each operation is staged, as for any backend.
  Offload small(uint64_t(64) << 10);
  const double p_staged = sq::model_perplexity(*small.be, src, cfg, tokens.data(), tokens.size(), po).perplexity;
  EXPECT_EQ(small.stats.rms_norms, 0u);
  EXPECT_NEAR(p_staged, p_ref, 1e-4 * p_ref);
}
