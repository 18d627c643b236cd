// The block forward's CUDA kernels and the device-resident block against the CPU reference (ctest label
// "cuda"; SKIPPED without a GPU). Each kernel runs on the CUDA DeviceApi and on the host stand-in DeviceApi
// (whose kernels are the CPU ops) with the same inputs. Tolerances: 1e-5 relative for the element-wise
// kernels and the softmax (fp32, different exp/rounding), 1e-4 for a whole block and its Hessians
// (summation order of the GEMMs differs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backend_parity.hpp"
#include "cuda_test_device.hpp"
#include "device_block_parity.hpp"
#include "host_device_api.hpp"
#include "portable/loss_aware_affine.hpp"
#include "portable/team_kmeans_fit.hpp"
#include "portable/kmeans_exact_row.hpp"
#include "quant/grid_gaussian.hpp"
#include "quant/hadamard.hpp"
#include "tiny_model.hpp"

namespace {

using Buffers = std::vector<std::vector<float>>;
using KernelFn = std::function<void(sq::DeviceApi&, const std::vector<float*>&)>;

// Uploads `bufs` to `d`, runs `op` on their device copies and returns buffer `result` downloaded.
std::vector<float> run_kernel(sq::DeviceApi& d, const Buffers& bufs, size_t result, const KernelFn& op) {
  std::vector<float*> ptrs;
  for (const auto& b : bufs) {
    const size_t bytes = b.size() * sizeof(float);
    ptrs.push_back(static_cast<float*>(d.allocate(bytes)));
    d.upload(ptrs.back(), bytes, b.data(), bytes, bytes, 1);
  }
  op(d, ptrs);
  std::vector<float> out(bufs[result].size());
  const size_t bytes = out.size() * sizeof(float);
  d.download(out.data(), bytes, ptrs[result], bytes, bytes, 1);
  for (float* p : ptrs) d.release(p);
  return out;
}

// Relative error of the GPU's result against the host stand-in's on the same inputs.
double kernel_error(sq::DeviceApi& gpu, const Buffers& bufs, size_t result, const KernelFn& op) {
  sq::test::HostDeviceStats stats;
  sq::test::HostDeviceApi host(stats);
  return sqtest::relative_error(run_kernel(gpu, bufs, result, op), run_kernel(host, bufs, result, op));
}

// Bytes of buffer `result` (codes: one byte each) that differ between the GPU and the host stand-in. Bytes, not
// floats: four 8-bit codes read as a float may be a NaN, which a relative error cannot compare.
size_t kernel_bytes_differing(sq::DeviceApi& gpu, const Buffers& bufs, size_t result, const KernelFn& op) {
  sq::test::HostDeviceStats stats;
  sq::test::HostDeviceApi host(stats);
  const auto a = run_kernel(gpu, bufs, result, op), b = run_kernel(host, bufs, result, op);
  const auto* pa = reinterpret_cast<const unsigned char*>(a.data());
  const auto* pb = reinterpret_cast<const unsigned char*>(b.data());
  size_t n = 0;
  for (size_t i = 0; i < a.size() * sizeof(float); ++i) n += pa[i] != pb[i];
  return n;
}

// A well-conditioned upper factor U for the sweep-block tests: small random entries, a varied diagonal.
std::vector<float> sweep_factor(int64_t cols, uint32_t seed) {
  auto u = sqtest::random_matrix(size_t(cols * cols), seed);
  for (float& x : u) x *= 0.05f;
  for (int64_t i = 0; i < cols; ++i) u[size_t(i * cols + i)] = 1.0f + 0.1f * float(i % 7);
  return u;
}

// The column-to-group map (groups of 128) as int32 values carried in a float buffer.
std::vector<float> group_map_bits(int64_t cols) {
  std::vector<float> bits(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) {
    const int32_t g = int32_t(i / 128);
    std::memcpy(&bits[size_t(i)], &g, sizeof g);
  }
  return bits;
}

}  // namespace

TEST(CudaKernels, RmsNormMatchesCpuOutOfPlaceAndInPlace) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  for (int64_t dim : {128, 4096, 14336 + 3}) {
    const int64_t rows = 37;
    const Buffers b{sqtest::random_matrix(size_t(rows * dim), 1, 0.3f), sqtest::random_matrix(size_t(dim), 2, 1.0f),
                    std::vector<float>(size_t(rows * dim))};
    EXPECT_LT(kernel_error(*d, b, 2, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                a.rms_norm(p[0], p[1], rows, dim, 1e-5f, p[2]);
              }), 1e-5) << "dim " << dim;
    EXPECT_LT(kernel_error(*d, b, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                a.rms_norm(p[0], p[1], rows, dim, 1e-6f, p[0]);
              }), 1e-5) << "in place, dim " << dim;
  }
}

TEST(CudaKernels, RopeMatchesCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t tokens = 257, heads = 8, hd = 128;
  sq::ModelConfig c = sqtest::tiny_config();
  c.head_dim = hd;
  c.rope_theta = 500000.0;
  const sq::RopeTables t = sq::make_rope_tables(c, tokens);
  const Buffers b{sqtest::random_matrix(size_t(tokens * heads * hd), 3), t.cos, t.sin};
  EXPECT_LT(kernel_error(*d, b, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
              a.rope(p[0], p[1], p[2], tokens, heads, hd);
            }), 1e-6);
}

TEST(CudaKernels, SiluMulAndRowBiasMatchCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t n = (1 << 24) + 5;  // more than the grid covers in one stride
  const Buffers b{sqtest::random_matrix(size_t(n), 4), sqtest::random_matrix(size_t(n), 5)};
  EXPECT_LT(kernel_error(*d, b, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) { a.silu_mul(p[0], p[1], n); }),
            1e-6);
  const int64_t rows = 301, cols = 77;
  const Buffers bb{sqtest::random_matrix(size_t(rows * cols), 6), sqtest::random_matrix(size_t(cols), 7)};
  EXPECT_LT(kernel_error(*d, bb, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
              a.add_row_bias(p[0], p[1], rows, cols);
            }), 1e-7);
}

TEST(CudaKernels, CausalSoftmaxMatchesCpuWithAndWithoutAWindow) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t tokens = 300, batch = 3;
  auto s = sqtest::random_matrix(size_t(batch * tokens * tokens), 8);
  for (float& x : s) x *= 4.0f;
  for (int64_t window : {0, 1, 50}) {
    const auto err = kernel_error(*d, {s}, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
      a.causal_softmax(p[0], tokens, batch, window);
    });
    EXPECT_LT(err, 1e-5) << "window " << window;
  }
}

TEST(CudaKernels, StridedBatchedGemmMatchesCpuWithASharedOperand) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  // The attention shapes: A_b strided by a head inside a wide row, B shared (stride 0), C strided.
  const int64_t m = 200, n = 200, k = 64, batch = 4, lda = batch * k;
  const Buffers b{sqtest::random_matrix(size_t(m * lda), 9), sqtest::random_matrix(size_t(n * k), 10),
                  std::vector<float>(size_t(batch * m * n))};
  for (bool tb : {true, false})
    EXPECT_LT(kernel_error(*d, b, 2, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                a.gemm_strided_batched(false, tb, m, n, k, 0.125f, p[0], lda, k, p[1], tb ? k : n, 0, 0.0f, p[2], n,
                                       m * n, batch);
              }), 1e-5) << "trans_b " << tb;
}

TEST(CudaKernels, Bf16GemmInputsStayWithinBf16RoundingOfTheFp32Product) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  // The stand-in rounds both inputs to bf16 and multiplies in fp32; cuBLAS's FAST_16BF may do the same or
  // round to TF32, so the GPU is checked against the fp32 product at bf16's precision (2^-8 relative per
  // input, partly cancelling over k = 512 products) and the distance to the emulation is printed.
  const int64_t m = 256, n = 192, k = 512;
  const Buffers b{sqtest::random_matrix(size_t(m * k), 21), sqtest::random_matrix(size_t(k * n), 22),
                  std::vector<float>(size_t(m * n))};
  const KernelFn product = [&](sq::DeviceApi& a, const std::vector<float*>& p) {
    a.gemm(false, false, m, n, k, 1.0f, p[0], k, p[1], n, 0.0f, p[2], n);
  };
  const KernelFn bf16 = [&](sq::DeviceApi& a, const std::vector<float*>& p) {
    a.set_matmul_inputs(sq::MatmulInputs::BF16);
    product(a, p);
    a.set_matmul_inputs(sq::MatmulInputs::FP32);
  };
  sq::test::HostDeviceStats stats;
  sq::test::HostDeviceApi host(stats);
  const auto exact = run_kernel(host, b, 2, product), emulated = run_kernel(host, b, 2, bf16);
  const auto gpu = run_kernel(*d, b, 2, bf16);
  const double off_exact = sqtest::relative_error(gpu, exact), emulation = sqtest::relative_error(emulated, exact);
  EXPECT_GT(emulation, 1e-4) << "the stand-in did not round";
  // 4x: cuBLAS does not document how FAST_16BF rounds fp32 to bf16; truncation instead of round-to-nearest
  // biases every product's magnitude the same way, which adds up instead of cancelling (about 2.5x, estimated).
  EXPECT_LT(off_exact, 4 * emulation);
  EXPECT_LT(sqtest::relative_error(run_kernel(*d, b, 2, product), exact), 1e-5) << "FP32 restored";
  std::printf("bf16 GEMM: GPU vs fp32 %.3g, stand-in bf16 emulation vs fp32 %.3g, GPU vs emulation %.3g\n", off_exact,
              emulation, sqtest::relative_error(gpu, emulated));
}

TEST(CudaKernels, DeviceBlockMatchesTheHostBlockForward) {
  auto be = sqtest::gpu();
  REQUIRE_GPU(be);
  for (const char* arch : {"LlamaForCausalLM", "Qwen3ForCausalLM"}) {
    sq::ModelConfig c = sqtest::tiny_config(arch, 8, 2);
    if (c.qk_norm) c.o_bias = c.attention_bias = true;
    const auto p = sqtest::device_block_parity(*be, c, 300, 320, 12);
    EXPECT_EQ(p.score_heads, 4);
    EXPECT_LT(p.hidden, 1e-4) << arch;
    for (double e : p.hessian) EXPECT_LT(e, 1e-4) << arch;
  }
  sq::ModelConfig sliding = sqtest::tiny_config();
  sliding.sliding_window = 33;
  EXPECT_LT(sqtest::device_block_parity(*be, sliding, 100, 100, 13).hidden, 1e-4);
}

TEST(CudaKernels, DeviceBlockWithReducedGemmInputsStaysNearTheFp32Forward) {
  auto be = sqtest::gpu();
  REQUIRE_GPU(be);
  // --gpu-matmul tf32|bf16: the block's GEMMs (attention's batched ones included) and the Hessian SYRKs may
  // round their inputs; cuBLAS decides where it does, so only the distance to the fp32 forward is bounded.
  const sq::ModelConfig c = sqtest::tiny_config("LlamaForCausalLM", 8, 2);
  for (auto [inputs, name, bound] :
       {std::tuple<sq::MatmulInputs, const char*, double>{sq::MatmulInputs::TF32, "tf32", sqtest::kTf32BlockTolerance},
        {sq::MatmulInputs::BF16, "bf16", sqtest::kBf16BlockTolerance}}) {
    be->set_forward_matmul(inputs);
    const auto p = sqtest::device_block_parity(*be, c, 300, 320, 12);
    EXPECT_LT(p.hidden, bound) << name;
    for (double e : p.hessian) EXPECT_LT(e, bound) << name;
    std::printf("%s block: outputs %.3g, Hessians %.3g %.3g %.3g %.3g\n", name, p.hidden, p.hessian[0],
                p.hessian[1], p.hessian[2], p.hessian[3]);
  }
  be->set_forward_matmul(sq::MatmulInputs::FP32);
  EXPECT_LT(sqtest::device_block_parity(*be, c, 300, 320, 12).hidden, 1e-4) << "fp32 restored";
}

TEST(CudaKernels, MinMaxAffineFitMatchesCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 1001, ld = 4101;  // 1001: the last thread block has one warp's row
  auto w = sqtest::random_matrix(size_t(rows * ld), 14);
  for (int64_t c = 0; c < ld; ++c) w[size_t(5 * ld + c)] = 0.0f;  // an all-zero row takes the [-1, 1] range
  for (int64_t width : {int64_t(128), ld})
    for (int bits : {3, 4})
      for (bool sym : {false, true})
        for (bool f16 : {false, true})
          for (size_t result : {size_t(1), size_t(2)}) {  // scales, then zeros
            const Buffers b{w, std::vector<float>(size_t(rows)), std::vector<float>(size_t(rows))};
            EXPECT_EQ(kernel_error(*d, b, result, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                        a.minmax_affine_fit(p[0], ld, rows, width, bits, sym, f16, p[1], p[2]);
                      }), 0.0) << "width " << width << " bits " << bits << " sym " << sym << " f16 " << f16;
          }
}

TEST(CudaKernels, LossAwareAffineFitMatchesCpuBitForBit) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 701, ld = 300;  // 701: the last thread block has one warp's row
  auto w = sqtest::random_matrix(size_t(rows * ld), 19);
  for (int64_t c = 0; c < ld; ++c) w[size_t(3 * ld + c)] = 0.0f;  // an all-zero row keeps the min-max grid
  auto importance = sqtest::random_matrix(size_t(ld), 20);
  for (float& s : importance) s = 0.1f + s * s;
  // The direct-sum regime up to kMaxLossAwareWidth (256) values: one warp per row, no workspace (3-bit rows of
  // 256 are in the sorted regime, which the next test covers).
  for (int64_t width : {int64_t(64), int64_t(128), int64_t(200), sq::DeviceApi::kMaxLossAwareWidth})
    for (int bits : {3, 4})
      if (!sq::loss_aware::fitted_by_team(width, bits))
        for (bool sym : {false, true})
          for (bool weighted : {false, true})
            for (size_t result : {size_t(1), size_t(2)}) {  // scales, then zeros
              const Buffers b{w, std::vector<float>(size_t(rows)), std::vector<float>(size_t(rows)), importance};
              EXPECT_EQ(kernel_error(*d, b, result,
                                     [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                                       a.loss_aware_affine_fit(p[0], ld, rows, width, weighted ? p[3] : nullptr, bits,
                                                               sym, 20, 0.5f, true, p[1], p[2], nullptr, 0);
                                     }),
                        0.0)
                  << "width " << width << " bits " << bits << " sym " << sym << " weighted " << weighted;
            }
}

TEST(CudaKernels, LossAwareSortedFitMatchesCpuBitForBit) {
  // Rows of at least 32 values per level: one thread block per row sorts and ranks (the host runs the same
  // portable team program, which the CPU tests check against the CPU grid).
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 700, ld = 2100;
  auto w = sqtest::random_matrix(size_t(rows * ld), 31);
  for (int64_t c = 0; c < ld; ++c) w[size_t(3 * ld + c)] = 0.0f;                    // min-max grid
  for (int64_t c = 0; c < ld; ++c) w[size_t(4 * ld + c)] = float(c % 5 - 2) * 0.1f;  // ties
  auto importance = sqtest::random_matrix(size_t(ld), 32);
  for (float& s : importance) s = std::exp(3.0f * s);
  // The sorted regime (128 at 2 bits, 256 at 3, 700 at 4, 2048 at 3) and direct-sum rows wider than the warp
  // kernel's (384 at 4 bits, 1000 at 8).
  for (auto [width, bits] : {std::pair<int64_t, int>{128, 2}, {256, 3}, {700, 4}, {2048, 3}, {384, 4}, {1000, 8}})
    for (bool sym : {false, true})
      for (bool weighted : {false, true})
        for (int64_t ws_rows : {rows, int64_t(96)})  // one launch, or several
          for (size_t result : {size_t(1), size_t(2)}) {  // scales, then zeros
            const size_t ws_floats = size_t(ws_rows * sq::loss_aware::team_fit_bytes(width, bits, 20, sym) / 4 + 2);
            const Buffers b{w, std::vector<float>(size_t(rows)), std::vector<float>(size_t(rows)), importance,
                            std::vector<float>(ws_floats)};
            EXPECT_EQ(kernel_error(*d, b, result, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                        a.loss_aware_affine_fit(p[0], ld, rows, width, weighted ? p[3] : nullptr, bits, sym, 20, 0.5f,
                                                true, p[1], p[2], p[4], ws_rows);
                      }), 0.0) << "width " << width << " bits " << bits << " sym " << sym << " weighted " << weighted
                               << " rows/launch " << ws_rows;
          }
}

TEST(CudaKernels, GptqAffineBlockMatchesCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 501, cols = 300, groups = 3;  // 501: the last thread block has one warp's row
  const auto u = sweep_factor(cols, 15);
  auto scales = sqtest::random_matrix(size_t(groups * rows), 16);
  for (float& s : scales) s = 0.1f + 0.01f * std::fabs(s);
  const std::vector<float> zeros(size_t(groups * rows), 8.0f);
  const auto group_of_bits = group_map_bits(cols);
  const int64_t ld_err = sq::DeviceApi::kMaxSweepBlock;
  // Blocks of 128 and of kMaxSweepBlock (256: every register slot of a lane), and a partial one.
  for (auto [i1, i2] : {std::pair<int64_t, int64_t>{128, 256}, {0, 256}, {256, 300}}) {
    const Buffers b{sqtest::random_matrix(size_t(rows * cols), 17), u, scales, zeros, group_of_bits,
                    std::vector<float>(size_t(rows * ld_err)), std::vector<float>(size_t(rows * cols / 4 + 1))};
    const KernelFn sweep = [&](sq::DeviceApi& a, const std::vector<float*>& p) {
      a.gptq_affine_block(p[0], rows, cols, p[1], i1, i2, p[2], p[3], reinterpret_cast<int32_t*>(p[4]), 4,
                          reinterpret_cast<uint8_t*>(p[6]), p[5], ld_err);
    };
    for (size_t result : {size_t(0), size_t(5)})  // w, then err
      EXPECT_EQ(kernel_error(*d, b, result, sweep), 0.0) << "block [" << i1 << ", " << i2 << ") buffer " << result;
    EXPECT_EQ(kernel_bytes_differing(*d, b, 6, sweep), 0u) << "codes of block [" << i1 << ", " << i2 << ")";
  }
}

TEST(CudaKernels, LutKMeansFitMatchesCpuBitForBit) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 700, ld = 2100;
  auto w = sqtest::random_matrix(size_t(rows * ld), 21);
  for (int64_t c = 0; c < ld; ++c) w[size_t(3 * ld + c)] = 0.25f;                // one distinct value
  for (int64_t c = 0; c < ld; ++c) w[size_t(4 * ld + c)] = float(c % 5) * 0.1f;  // fewer values than levels
  auto importance = sqtest::random_matrix(size_t(ld), 22);
  for (float& s : importance) s = std::exp(3.0f * s);  // LeanQuant's v^-4 spans orders of magnitude
  // Up to 512 one thread per row; wider rows (coarse bins, Lloyd steps) one thread block per row.
  for (int64_t width : {int64_t(64), int64_t(128), int64_t(200), int64_t(512), int64_t(700), int64_t(2048)})
    for (int levels : {4, 16, 256})
      for (bool weighted : {false, true})
        for (int64_t ws_rows : {rows, int64_t(96)}) {  // one launch, or several
          const size_t ws_floats = size_t(ws_rows * sq::lut_kmeans_row_bytes(int(width), levels) / 4 + 2);
          const Buffers b{w, std::vector<float>(size_t(rows * levels)), importance, std::vector<float>(ws_floats)};
          EXPECT_EQ(kernel_error(*d, b, 1, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                      a.lut_kmeans_fit(p[0], ld, rows, width, weighted ? p[2] : nullptr, levels, p[1], p[3], ws_rows);
                    }), 0.0) << "width " << width << " levels " << levels << " weighted " << weighted << " rows/launch "
                             << ws_rows;
        }
}

TEST(CudaKernels, GptqLutBlockMatchesCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 500, cols = 300, groups = 3, levels = 16;
  const auto u = sweep_factor(cols, 23);
  auto lut = sqtest::random_matrix(size_t(groups * rows * levels), 24);
  for (int64_t row = 0; row < groups * rows; ++row) std::sort(lut.begin() + row * levels, lut.begin() + (row + 1) * levels);
  const auto group_of_bits = group_map_bits(cols);
  for (auto [i1, i2] : {std::pair<int64_t, int64_t>{0, 128}, {0, 256}, {256, 300}})
    for (size_t result : {size_t(0), size_t(4), size_t(5)}) {  // w, err, then the codes (bytes compared as floats)
      const Buffers b{sqtest::random_matrix(size_t(rows * cols), 25), u, lut, group_of_bits,
                      std::vector<float>(size_t(rows * 256)), std::vector<float>(size_t(rows * cols / 4 + 1), 0.0f)};
      EXPECT_EQ(kernel_error(*d, b, result, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                  a.gptq_lut_block(p[0], rows, cols, p[1], i1, i2, p[2], reinterpret_cast<int32_t*>(p[3]), int(levels),
                                   reinterpret_cast<uint8_t*>(p[5]), p[4], 256);
                }), 0.0) << "block [" << i1 << ", " << i2 << ") buffer " << result;
    }
}

// One thread block runs the portable team program; the host stand-in runs the same source sequentially.
TEST(CudaKernels, ClaqColumnFitMatchesCpuBitForBit) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  for (int64_t rows : {int64_t(300), int64_t(1100), int64_t(14336), int64_t(28672)}) {  // up to Llama-3-70B's MLP
    const int64_t cols = 3;
    auto w = sqtest::random_matrix(size_t(rows * cols), 31);
    for (int64_t r = 0; r < rows; ++r) w[size_t(r * cols + 2)] = float(r % 9) * 0.125f;  // repeated values
    for (int levels : {4, 16, 256})
      for (int reserve : {0, 7})
        for (int64_t column = 0; column < cols; ++column)
          for (size_t result : {size_t(1), size_t(2)}) {  // the levels, then the reserved rows (ints as floats)
            const size_t ws_floats = size_t(sq::team_kmeans_bytes(int(rows), levels) / 4 + 2);
            const Buffers b{w, std::vector<float>(size_t(levels)), std::vector<float>(size_t(2 * reserve + 1)),
                            std::vector<float>(ws_floats)};
            EXPECT_EQ(kernel_error(*d, b, result, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                        a.claq_column_fit(p[0], rows, cols, column, levels, reserve, p[1],
                                          reinterpret_cast<int32_t*>(p[2]), p[3]);
                      }), 0.0) << "rows " << rows << " levels " << levels << " reserve " << reserve << " column "
                               << column << " buffer " << result;
          }
  }
}

TEST(CudaKernels, ClaqRoundColumnMatchesCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 500, cols = 300, levels = 8;
  const auto u = sweep_factor(cols, 32);
  auto lev = sqtest::random_matrix(size_t(levels), 33);
  std::sort(lev.begin(), lev.end());
  std::vector<float> reserved(6);  // rows 3, 40, 41, 200, 333, 499 as int32 bits
  const int32_t rows_reserved[6] = {3, 40, 41, 200, 333, 499};
  std::memcpy(reserved.data(), rows_reserved, sizeof rows_reserved);
  for (auto [i1, i, i2] : {std::tuple<int64_t, int64_t, int64_t>{0, 0, 128}, {128, 200, 256}, {256, 299, 300}})
    for (size_t result : {size_t(0), size_t(4), size_t(5), size_t(6)}) {  // w, residuals, err, codes
      const Buffers b{sqtest::random_matrix(size_t(rows * cols), 34), u, lev, reserved, std::vector<float>(6),
                      std::vector<float>(size_t(rows * 128)), std::vector<float>(size_t(rows * cols / 4 + 1), 0.0f)};
      EXPECT_EQ(kernel_error(*d, b, result, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                  a.claq_round_column(p[0], rows, cols, p[1], i1, i, i2, p[2], int(levels),
                                      reinterpret_cast<int32_t*>(p[3]), 6, p[4], reinterpret_cast<uint8_t*>(p[6]), p[5],
                                      128);
                }), 0.0) << "column " << i << " of [" << i1 << ", " << i2 << ") buffer " << result;
    }
}

TEST(CudaKernels, RmsScaleFitAndGaussianBlockMatchCpu) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 500, cols = 300, groups = 3;
  const auto w = sqtest::random_matrix(size_t(rows * cols), 26);
  for (int64_t width : {int64_t(64), int64_t(128), cols})
    for (bool f16 : {false, true}) {
      const Buffers b{w, std::vector<float>(size_t(rows))};
      EXPECT_EQ(kernel_error(*d, b, 1, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                  a.rms_scale_fit(p[0], cols, rows, width, f16, p[1]);
                }), 0.0) << "width " << width << " f16 " << f16;
    }
  const auto u = sweep_factor(cols, 27);
  auto scales = sqtest::random_matrix(size_t(groups * rows), 28);
  for (float& s : scales) s = 0.3f + 0.1f * std::fabs(s);
  scales[7] = 0.0f;  // an all-zero row's scale: its values round to the level nearest 0
  const sq::GaussianGrid& grid = sq::gaussian_grid(1, 16);
  const std::vector<float> points(grid.points, grid.points + grid.n), mid = sq::midpoints(grid);
  const auto group_of_bits = group_map_bits(cols);
  for (auto [i1, i2] : {std::pair<int64_t, int64_t>{0, 128}, {0, 256}, {256, 300}})
    for (size_t result : {size_t(0), size_t(4), size_t(5)}) {  // w, err, then the codes (bytes compared as floats)
      const Buffers b{w, u, scales, group_of_bits, std::vector<float>(size_t(rows * 256)),
                      std::vector<float>(size_t(rows * cols / 4 + 1), 0.0f), points, mid};
      EXPECT_EQ(kernel_error(*d, b, result, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                  a.gptq_gaussian_block(p[0], rows, cols, p[1], i1, i2, p[2], reinterpret_cast<int32_t*>(p[3]), p[6],
                                        p[7], grid.n, reinterpret_cast<uint8_t*>(p[5]), p[4], 256);
                }), 0.0) << "block [" << i1 << ", " << i2 << ") buffer " << result;
    }
}

TEST(CudaKernels, HadamardRotationAndMirrorsMatchCpuBitForBit) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 33, cols = 16384;
  const auto w = sqtest::random_matrix(size_t(rows * cols), 29);
  const std::vector<float> signs = sq::hadamard_signs(cols, 5);
  for (int64_t block : {int64_t(1), int64_t(2), int64_t(64), int64_t(512), int64_t(4096), int64_t(8192)})
    for (bool with_signs : {false, true})
      for (bool inverse : {false, true}) {
        const Buffers b{w, signs};
        EXPECT_EQ(kernel_error(*d, b, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                    a.hadamard_rotate_rows(p[0], rows, cols, cols, block, with_signs ? p[1] : nullptr, inverse);
                  }), 0.0) << "block " << block << " signs " << with_signs << " inverse " << inverse;
      }
  for (int64_t n : {int64_t(1), int64_t(31), int64_t(300)}) {
    const int64_t lda = n + 3;  // the Cholesky factor's triangles, inside a padded matrix
    const Buffers padded{sqtest::random_matrix(size_t(n * lda), 30)};
    EXPECT_EQ(kernel_error(*d, padded, 0,
                           [&](sq::DeviceApi& a, const std::vector<float*>& p) { a.mirror_upper(p[0], n, lda); }),
              0.0)
        << "mirror_upper n " << n;
    EXPECT_EQ(kernel_error(*d, padded, 0,
                           [&](sq::DeviceApi& a, const std::vector<float*>& p) { a.zero_lower(p[0], n, lda); }),
              0.0)
        << "zero_lower n " << n;
    const Buffers b{sqtest::random_matrix(size_t(n * n), 30)};
    EXPECT_EQ(
        kernel_error(*d, b, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) { a.transpose_square(p[0], n); }),
        0.0)
        << "transpose n " << n;
    EXPECT_EQ(
        kernel_error(*d, b, 0, [&](sq::DeviceApi& a, const std::vector<float*>& p) { a.symmetrize_average(p[0], n); }),
        0.0)
        << "symmetrize n " << n;
  }
}

TEST(CudaKernels, QuantEaseBlockAndSubtractMatchCpuBitForBit) {
  auto d = sqtest::gpu_api();
  REQUIRE_GPU(d);
  const int64_t rows = 500, cols = 300, groups = 3;
  const auto s = sweep_factor(cols, 31);  // S's rows as the sweep reads them; only its diagonal must be positive
  auto scales = sqtest::random_matrix(size_t(groups * rows), 32);
  for (float& x : scales) x = 0.1f + 0.01f * std::fabs(x);
  const std::vector<float> zeros(size_t(groups * rows), 8.0f);
  const auto group_of_bits = group_map_bits(cols);
  for (bool relaxed : {false, true})
    for (auto [b0, b1] : {std::pair<int64_t, int64_t>{0, 128}, {0, 256}, {256, 300}})
      for (size_t result : {size_t(0), size_t(1), size_t(6), size_t(7)}) {  // q, g, the changes, the codes
        const Buffers b{sqtest::random_matrix(size_t(rows * cols), 33), sqtest::random_matrix(size_t(rows * cols), 34),
                        s, scales, zeros, group_of_bits, std::vector<float>(size_t(rows * 256)),
                        std::vector<float>(size_t(rows * cols / 4 + 1), 0.0f)};
        EXPECT_EQ(kernel_error(*d, b, result,
                               [&](sq::DeviceApi& a, const std::vector<float*>& p) {
                                 a.quantease_affine_block(p[0], p[1], rows, cols, p[2], b0, b1, p[3], p[4],
                                                          reinterpret_cast<int32_t*>(p[5]), 4, relaxed,
                                                          reinterpret_cast<uint8_t*>(p[7]), p[6], 256);
                               }),
                  0.0)
            << "block [" << b0 << ", " << b1 << ") relaxed " << relaxed << " buffer " << result;
      }
  const Buffers b{sqtest::random_matrix(70001, 35), sqtest::random_matrix(70001, 36), std::vector<float>(70001)};
  EXPECT_EQ(kernel_error(*d, b, 2,
                         [](sq::DeviceApi& a, const std::vector<float*>& p) { a.subtract(p[0], p[1], p[2], 70001); }),
            0.0);
}

TEST(CudaKernels, GptqLayerOnTheDeviceMatchesTheCpuSweep) {
  auto be = sqtest::gpu();
  REQUIRE_GPU(be);
  const auto expect_parity = [&](const sq::QuantizeOptions& o, int64_t rows, int64_t cols, const std::string& what) {
    const sqtest::LayerParity p = sqtest::layer_parity(*be, o, rows, cols, 18);
    EXPECT_LE(p.code_mismatch, 0.01) << what;
    EXPECT_NEAR(p.objective, p.objective_ref, 0.01 * p.objective_ref) << what;
  };
  for (const char* method : {"gptq", "leanquant-affine", "leanquant"})
    for (bool static_groups : {false, true}) {  // groups fitted on the device during the sweep, or up front (LUT
                                               // on the device too, affine on the host)
      sq::QuantizeOptions o;
      o.method = method;
      o.bits = 4;
      o.group_size = 128;
      o.static_groups = o.act_order = static_groups;
      expect_parity(o, 512, 2048, std::string(method) + (static_groups ? " static" : ""));
    }
  sq::QuantizeOptions higgs;  // the sweep on the Hadamard-rotated layer
  higgs.method = "higgs-gptq";
  higgs.bits = 4;
  higgs.group_size = 128;
  expect_parity(higgs, 512, 2048, "higgs-gptq");
  // CLAQ: per-column fits on the device, 2 and 4 bits mixed, reserved outliers.
  expect_parity(sqtest::claq_options("2.12"), 1024, 1024, "claq 2.12");
  sq::QuantizeOptions wide;  // LUT groups of 1024 columns: a thread block per row fits them
  wide.method = "leanquant";
  wide.bits = 4;
  wide.group_size = 1024;
  expect_parity(wide, 512, 2048, "leanquant g1024");
  wide.group_size = -1;  // per channel: 2048-value rows fitted up front on the device
  wide.bits = 3;
  expect_parity(wide, 512, 2048, "leanquant per channel");
  sq::QuantizeOptions lean2;  // 2-bit loss-aware groups of 128: the sorted regime, a thread block per row
  lean2.method = "leanquant-affine";
  lean2.bits = 2;
  lean2.group_size = 128;
  expect_parity(lean2, 512, 2048, "leanquant-affine 2-bit g128");
}

TEST(CudaKernels, QuantEaseLayerOnTheDeviceMatchesTheCpuSweeps) {
  auto be = sqtest::gpu();
  REQUIRE_GPU(be);
  for (double outliers : {0.0, 0.01}) {  // the sweeps alone, and with an outlier step after each
    sq::QuantizeOptions o;
    o.method = "quantease";
    o.bits = 4;
    o.group_size = 128;
    o.sweeps = 10;
    o.outlier_fraction = outliers;
    const sqtest::LayerParity p = sqtest::layer_parity(*be, o, 512, 2048, 19);
    // Ten sweeps of coordinate descent carry the GEMMs' different summation order forward, so codes may drift more
    // than a single GPTQ sweep's; the objective is what must agree.
    EXPECT_LE(p.code_mismatch, 0.02) << "outliers " << outliers;
    EXPECT_NEAR(p.objective, p.objective_ref, 0.01 * p.objective_ref) << "outliers " << outliers;
  }
}
