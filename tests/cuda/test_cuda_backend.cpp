// The CUDA backend against the CPU reference (ctest label "cuda"): every backend operation, every tiling the
// memory budget forces, every quantization method on a layer, and a whole job. Without a CUDA build or a
// visible GPU every test reports SKIPPED with the reason. Tolerances: fp32 operations within 1e-5 relative
// (1e-3 for the inverse factor, whose error grows with the Hessian's condition number); codes identical
// except near-ties (at most 1% of them differ); layer objectives within 1%.
#include <gtest/gtest.h>

#include <algorithm>

#include <memory>
#include <string>
#include <vector>

#include "backend_parity.hpp"
#include "cuda_test_device.hpp"
#include "test_files.hpp"
#include "model/forward.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

using sqtest::gpu;

TEST(CudaBackend, GemmMatchesCpuForEveryTransposeAndTiling) {
  for (uint64_t budget : {uint64_t(4) << 30, uint64_t(1) << 20}) {
    auto be = gpu(budget);
    REQUIRE_GPU(be);
    uint32_t seed = 1;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 0.5f})
          EXPECT_LT(sqtest::gemm_error(*be, ta, tb, 517, 389, 1031, beta, seed += 3), 1e-5)
              << "budget " << budget << " ta " << ta << " tb " << tb << " beta " << beta;
    EXPECT_LE(be->device_memory_peak(), budget);
  }
}

TEST(CudaBackend, SyrkMatchesCpuInChunksAndThroughTheGemmFallback) {
  for (uint64_t budget : {uint64_t(4) << 30, uint64_t(2) << 20, uint64_t(512) << 10}) {
    auto be = gpu(budget);
    REQUIRE_GPU(be);
    for (float beta : {0.0f, 1.0f})
      EXPECT_LT(sqtest::syrk_error(*be, 600, 2049, beta, 7), 1e-5) << "budget " << budget << " beta " << beta;
    EXPECT_LE(be->device_memory_peak(), budget);
  }
}

TEST(CudaBackend, CholeskyAndInverseFactorMatchCpu) {
  auto be = gpu();
  REQUIRE_GPU(be);
  EXPECT_LT(sqtest::cholesky_error(*be, 1024, false, 3), 1e-4);
  EXPECT_LT(sqtest::cholesky_error(*be, 1024, true, 4), 1e-3);
  std::vector<float> a(256 * 256, 0.0f);
  for (int i = 0; i < 256; ++i) a[size_t(i * 256 + i)] = i == 100 ? -1.0f : 1.0f;
  EXPECT_FALSE(be->cholesky_inverse_upper(a.data(), 256, 256)) << "not positive definite: false, not an error";
}

TEST(CudaBackend, OverBudgetIsAClearError) {
  auto be = gpu(uint64_t(1) << 20);
  REQUIRE_GPU(be);
  auto h = sqtest::spd_matrix(1024, 2);  // 4 MiB
  sqtest::expect_error([&] { be->cholesky_inverse_upper(h.data(), 1024, 1024); }, SQ_ERR_OUT_OF_MEMORY,
                       {"--gpu-mem-budget"});
}

TEST(CudaBackend, AsyncDownloadsIntoPinnedMemoryLandAfterTheKernelsBeforeThem) {
  auto api = sqtest::gpu_api();
  REQUIRE_GPU(api);
  const int64_t n = int64_t(1) << 22;  // 16 MiB
  const auto a = sqtest::random_matrix(size_t(n), 3), b = sqtest::random_matrix(size_t(n), 4);
  const size_t bytes = size_t(n) * sizeof(float);
  float *da = static_cast<float*>(api->allocate(bytes)), *db = static_cast<float*>(api->allocate(bytes));
  auto* pinned = static_cast<float*>(api->allocate_pinned(bytes));
  ASSERT_TRUE(da && db && pinned);
  api->upload(da, bytes, a.data(), bytes, bytes, 1);
  api->upload(db, bytes, b.data(), bytes, bytes, 1);
  api->subtract(da, db, da, n);           // queued before the copy: the copy must see its result
  api->download_async(pinned, da, bytes);
  api->subtract(db, db, db, n);           // queued after: runs beside the copy, on another buffer
  api->wait_copies();
  api->synchronize();
  std::vector<float> zeros(static_cast<size_t>(n));
  api->download(zeros.data(), bytes, db, bytes, bytes, 1);
  for (int64_t i = 0; i < n; i += 4099) {
    ASSERT_EQ(pinned[i], a[size_t(i)] - b[size_t(i)]) << i;
    ASSERT_EQ(zeros[size_t(i)], 0.0f) << i;
  }
  api->release_pinned(pinned);
  api->release(da);
  api->release(db);
}

TEST(CudaBackend, AsyncCopiesRunInOrderAndKernelsWaitForThemWhenAsked) {
  // The streamed passes' pattern (pipeline/block_passes.cpp): a buffer's result leaves and the next input comes
  // into the same buffer, while a kernel works on another; a kernel issued after kernels_wait_copies sees the
  // new input.
  auto api = sqtest::gpu_api();
  REQUIRE_GPU(api);
  const int64_t n = int64_t(1) << 22;  // 16 MiB
  const size_t bytes = size_t(n) * sizeof(float);
  const auto a = sqtest::random_matrix(size_t(n), 5), b = sqtest::random_matrix(size_t(n), 6);
  float *da = static_cast<float*>(api->allocate(bytes)), *db = static_cast<float*>(api->allocate(bytes));
  auto* in = static_cast<float*>(api->allocate_pinned(bytes));
  auto* out = static_cast<float*>(api->allocate_pinned(bytes));
  ASSERT_TRUE(da && db && in && out);
  std::copy(a.begin(), a.end(), in);
  api->upload(db, bytes, b.data(), bytes, bytes, 1);
  api->upload_async(da, in, bytes);
  api->kernels_wait_copies();
  api->subtract(da, db, da, n);       // a - b, after the upload
  api->download_async(out, da, bytes);  // after the kernel
  api->upload_async(da, in, bytes);   // after the download: da holds a again
  api->subtract(db, db, db, n);       // beside the copies, on the other buffer
  api->kernels_wait_copies();
  api->subtract(da, db, da, n);       // a - 0
  api->wait_copies();
  std::vector<float> back(static_cast<size_t>(n));
  api->download(back.data(), bytes, da, bytes, bytes, 1);
  for (int64_t i = 0; i < n; i += 4099) {
    ASSERT_EQ(out[i], a[size_t(i)] - b[size_t(i)]) << i;
    ASSERT_EQ(back[size_t(i)], a[size_t(i)]) << i;
  }
  api->release_pinned(in);
  api->release_pinned(out);
  api->release(da);
  api->release(db);
}

TEST(CudaBackend, EveryMethodQuantizesALayerAsOnTheCpu) {
  auto be = gpu();
  REQUIRE_GPU(be);
  sqtest::expect_layer_parity(*be, 256, 1024, 11);
  auto tiled = gpu(uint64_t(12) << 20);  // H (4 MiB) and its factor fit; larger GEMMs are tiled
  sqtest::expect_layer_parity(*tiled, 256, 1024, 12, /*include_rotated=*/false);
}

TEST(CudaBackend, JobAndPerplexityMatchTheCpuRun) {
  auto be = gpu();
  REQUIRE_GPU(be);
  const auto cfg = sqtest::tiny_config();
  const auto ref = sqtest::tiny_gptq_job(sq::default_cpu_backend());
  const auto out = sqtest::tiny_gptq_job(*be);
  ASSERT_EQ(ref.size(), out.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_LT(sqtest::relative_error(out[i], ref[i]), 1e-2) << "layer " << i;
  const auto src = sqtest::make_tiny_model(cfg, 21);
  const auto tokens = sqtest::random_tokens(96, cfg.vocab_size, 8);
  sq::PerplexityOptions po;
  po.seq_len = 32;
  const double p_ref = sq::model_perplexity(sq::default_cpu_backend(), src, cfg, tokens.data(), tokens.size(), po).perplexity;
  const double p_out = sq::model_perplexity(*be, src, cfg, tokens.data(), tokens.size(), po).perplexity;
  EXPECT_NEAR(p_out, p_ref, 1e-3 * p_ref);
}

TEST(CudaBackend, DimensionsBeyondCublasIntRangeAreAClearError) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  // Checked before cuBLAS is called (the pointers are never read): an error naming the dimension, not a wrap.
  const int64_t huge = int64_t(1) << 31;
  try {
    d->gemm(false, false, huge, 1, 1, 1.0f, nullptr, 1, nullptr, 1, 0.0f, nullptr, 1);
    ADD_FAILURE() << "a 2^31-row GEMM was accepted";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("2147483648"), std::string::npos) << e.what();
  }
}
