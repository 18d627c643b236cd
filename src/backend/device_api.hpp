// What a compute device must offer so the offload backend (offload/offload_backend.hpp) can run the heavy
// linear algebra of the Backend interface on it, and the device block forward (model/device_block.hpp) can
// run a whole decoder block there: raw memory, copies between host and device, the dense kernels and the
// block's element-wise kernels on device pointers. Matrices are row-major fp32 with explicit leading
// dimensions, as in Backend. Kernels may run asynchronously; upload, download and synchronize() wait for them.
//
// Two implementations: the CUDA one (cuda/cuda_device_api.cpp: cudaMalloc, cuBLAS, cuSOLVER) and a host
// stand-in used by the tests (tests/unit/host_device_api.hpp), which lets every line of the offload logic
// (tiling, budget, staging) be checked on a machine without a GPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sq {

// What the device's GEMMs may round their fp32 inputs to (accumulation stays fp32): nothing (FP32, the CPU's
// arithmetic to rounding), TF32 (10-bit mantissas, tensor cores) or BF16 (8-bit mantissas, tensor cores at
// twice TF32's rate). sq_context_set_matmul_precision; only the calibration forward pass uses the last two.
enum class MatmulInputs { FP32, TF32, BF16 };

class DeviceApi {
 public:
  virtual ~DeviceApi() = default;
  virtual std::string name() const = 0;  // "cuda:0"

  // Raw device memory. allocate returns nullptr when the device itself is out of memory (the budget is
  // enforced above this layer, by DeviceMemory).
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr) noexcept = 0;

  // Copy `rows` rows of `row_bytes` bytes between pitched host and device memory. Synchronous.
  virtual void upload(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes,
                      size_t rows) = 0;
  virtual void download(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes,
                        size_t rows) = 0;
  // bytes from device memory to device memory (asynchronous, ordered with the kernels).
  virtual void copy_on_device(void* dst, const void* src, size_t bytes) = 0;

  // ---- copies that overlap with kernels (pipeline/block_passes.cpp) ----
  // Page-locked host memory, which the asynchronous copies below can move while kernels run; nullptr when the
  // system refuses (the caller then uses ordinary memory: the copies stay correct, they just do not overlap).
  virtual void* allocate_pinned(size_t bytes) = 0;
  virtual void release_pinned(void* ptr) noexcept = 0;
  // The asynchronous copies run in the order they were queued, each after every kernel issued before it, and
  // return at once; kernels issued after them do not wait for them unless kernels_wait_copies() comes between.
  // Until wait_copies() returns, a copy's host memory must not be touched (read a download's, write an upload's)
  // and its device memory must not be released.
  // From device `src` to host `dst`; `src` must not be written by a kernel before wait_copies() (or
  // kernels_wait_copies()).
  virtual void download_async(void* dst, const void* src, size_t bytes) = 0;
  // From host `src` to device `dst`; `dst` holds undefined values for kernels issued before the next
  // kernels_wait_copies().
  virtual void upload_async(void* dst, const void* src, size_t bytes) = 0;
  // Kernels issued from now on start after every copy queued so far; the host does not wait.
  virtual void kernels_wait_copies() = 0;
  // The host waits for every copy queued so far.
  virtual void wait_copies() = 0;

  // The Backend operations on device pointers (same contracts as in backend.hpp).
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) = 0;
  // C[n,n] = alpha * A^T A + beta * C for A [k, n]; only the upper triangle of C need be written.
  virtual void syrk_ata_upper(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                              int64_t ldc) = 0;
  // Scratch the factorizations below need, in bytes, for the n x n device matrix `a`.
  virtual size_t factor_workspace_bytes(float* a, int64_t n, int64_t lda) = 0;
  // In place, upper triangle: A = U^T U (potrf) / A <- A^-1 from its factor (potri). `workspace` holds
  // factor_workspace_bytes(a, n, lda) bytes. False when A is not positive definite.
  virtual bool potrf_upper(float* a, int64_t n, int64_t lda, void* workspace) = 0;
  virtual bool potri_upper(float* a, int64_t n, int64_t lda, void* workspace) = 0;
  // a[i][j] = a[j][i] (mirror_upper) or 0 (zero_lower) for i > j.
  virtual void mirror_upper(float* a, int64_t n, int64_t lda) = 0;
  virtual void zero_lower(float* a, int64_t n, int64_t lda) = 0;

  // ---- the decoder block's kernels (same contracts as model/ops.hpp, on device pointers) ----
  // C_b = alpha op(A_b) op(B_b) + beta C_b for b < batch, where X_b = x + b * stride_x (a stride may be 0).
  virtual void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                    const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb,
                                    int64_t stride_b, float beta, float* c, int64_t ldc, int64_t stride_c,
                                    int64_t batch) = 0;
  // y[r] = weight * x[r] / sqrt(mean(x[r]^2) + eps) over `rows` rows of `dim` (y may equal x).
  virtual void rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* y) = 0;
  // HF rotate_half RoPE in place on x [tokens, heads * head_dim]; cos/sin are [tokens, head_dim / 2].
  virtual void rope(float* x, const float* cos, const float* sin, int64_t tokens, int64_t heads,
                    int64_t head_dim) = 0;
  // gate <- silu(gate) * up over n values.
  virtual void silu_mul(float* gate, const float* up, int64_t n) = 0;
  // y[r] += bias for `rows` rows of `cols`.
  virtual void add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols) = 0;
  // Softmax in place over `batch` score matrices [tokens, tokens] (stride tokens^2), row i over keys
  // [i - window + 1, i] (window <= 0: [0, i]); the masked entries become 0.
  virtual void causal_softmax(float* scores, int64_t tokens, int64_t batch, int64_t window) = 0;
  // From now on gemm and gemm_strided_batched may round their inputs to `inputs`, and syrk_ata_upper to TF32
  // unless `inputs` is FP32 (a Hessian from bf16-rounded activations would lose more than the forward does,
  // and SYRK has no bf16 form). FP32 is the default.
  virtual void set_matmul_inputs(MatmulInputs inputs) = 0;
  // Wait until every kernel issued so far has finished (for timing; copies already wait).
  virtual void synchronize() = 0;

  // ---- the GPTQ sweep with an affine grid (quant/solver_gptq_device.hpp) ----
  // The min-max affine fit of quant/grid_minmax_affine.hpp for every row r over columns [0, width) of w
  // (leading dimension ld): scales[r] (rounded to fp16 when f16_scales; a scale over the fp16 range becomes
  // inf, for the caller to report) and zeros[r].
  virtual void minmax_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, int bits, bool sym,
                                 bool f16_scales, float* scales, float* zeros) = 0;
  // The LeanQuant loss-aware affine fit of quant/grid_loss_aware_affine.hpp for every row r over columns
  // [0, width) of w: the same candidate ranges in the same order, the importance-weighted losses summed in the
  // same order, so the same grid is chosen. In the CPU's direct-sum regime (loss_aware::sorted_regime false)
  // for rows of at most kMaxLossAwareWidth values, one warp per row, no workspace; otherwise (its sorted regime,
  // or wider rows: loss_aware::fitted_by_team) one thread block per row running the team program of
  // kernels/portable/loss_aware_affine.hpp over a slice of `workspace`, which holds
  // workspace_rows * loss_aware::team_fit_bytes(width, bits, shrink_steps, sym) bytes (8-byte aligned; rows are
  // fitted workspace_rows at a time). importance: `width` device floats, or null for ones. Scales over the fp16
  // range become inf; a row holding a non-finite value gets a NaN scale; both for the caller to report.
  virtual void loss_aware_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                                     int bits, bool sym, int shrink_steps, float min_factor, bool f16_scales,
                                     float* scales, float* zeros, void* workspace, int64_t workspace_rows) = 0;
  static constexpr int64_t kMaxLossAwareWidth = 256;
  // One block of the GPTQ sweep, columns [i1, i2) of w [rows, cols], every row (i2 - i1 <= kMaxSweepBlock):
  // in order, column i is rounded on its row's affine grid (scale, zero) = (scales, zeros)[group_of[i] * rows + r]
  // with 2^bits levels; codes[r, i] and w[r, i] take the code and its value; err[r, i - i1] = (w - value) /
  // u[i, i]; and err * u[i, j] is subtracted from w[r, j] for i < j < i2. Columns from i2 on are left to the
  // caller's trailing GEMM. group_of is device memory (cols ints).
  virtual void gptq_affine_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                 const float* scales, const float* zeros, const int32_t* group_of, int bits,
                                 uint8_t* codes, float* err, int64_t ld_err) = 0;
  static constexpr int64_t kMaxSweepBlock = 256;

  // ---- the GPTQ sweep with a LeanQuant lookup-table grid ----
  // The LUT fit of quant/grid_lut_kmeans.hpp (importance-weighted 1-D k-means, default solver options) for
  // every row r over columns [0, width) of w: lut[r * levels + c], ascending, the CPU's levels bit for bit. Up to
  // kMaxExactKMeansWidth values, where the CPU solver is exact, one thread per row runs
  // kernels/portable/kmeans_exact_row.hpp; above, one thread block per row runs
  // kernels/portable/team_kmeans_fit.hpp (coarse bins and Lloyd steps). importance: `width` device floats, or
  // null for ones. A row holding a non-finite value gets NaN levels, for the caller to report. workspace holds
  // workspace_rows * lut_kmeans_row_bytes(width, levels) bytes (8-byte aligned); rows are fitted
  // workspace_rows at a time.
  virtual void lut_kmeans_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                              int levels, float* lut, void* workspace, int64_t workspace_rows) = 0;
  // gptq_affine_block with a LUT grid: column i of row r is rounded to the nearest of the `levels` ascending
  // values at lut + (group_of[i] * rows + r) * levels (nearest_level, kernels/portable/nearest_level.hpp).
  virtual void gptq_lut_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                              const float* lut, const int32_t* group_of, int levels, uint8_t* codes, float* err,
                              int64_t ld_err) = 0;

  // ---- the GPTQ sweep with the HIGGS scalar Gaussian grid (on the Hadamard-rotated layer) ----
  // HiggsScalarGrid's fit (quant/grid_gaussian.hpp): scales[r] = the RMS of row r over columns [0, width) of
  // w (rms_of, kernels/portable/gaussian_scalar.hpp), rounded to fp16 when f16_scales (inf above its range,
  // for the caller to report; 2^-24 for a positive scale that would round to 0).
  virtual void rms_scale_fit(const float* w, int64_t ld, int64_t rows, int64_t width, bool f16_scales,
                             float* scales) = 0;
  // gptq_affine_block with that grid: with s = scales[group_of[i] * rows + r], column i of row r gets the code
  // scalar_grid_code(mid, n - 1, s > 0 ? w / s : 0) and the value s * points[code]. points (n ascending
  // levels) and mid (their n - 1 midpoints) are device memory.
  virtual void gptq_gaussian_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                                   const float* scales, const int32_t* group_of, const float* points,
                                   const float* mid, int n, uint8_t* codes, float* err, int64_t ld_err) = 0;

  // ---- the GPTQ sweep with CLAQ's column k-means grid (quant/solver_claq_device.hpp) ----
  // ColumnKMeansGrid::fit of column `column` of w [rows, cols], on one thread block
  // (kernels/portable/team_kmeans_fit.hpp, the source the CPU tests check against the grid): `levels`
  // ascending levels into levels_out and the 2 * reserve reserved rows, ascending, into reserved_out; NaN levels
  // when the column holds a non-finite value, for the caller to report. workspace holds
  // team_kmeans_bytes(rows, levels) bytes.
  virtual void claq_column_fit(const float* w, int64_t rows, int64_t cols, int64_t column, int levels, int reserve,
                               float* levels_out, int32_t* reserved_out, void* workspace) = 0;
  // Column i of the sweep block [i1, i2) on that grid, every row, as round_column_rows with
  // ColumnKMeansGrid::round: the code is nearest_level(levels, w[r, i]) and the value its level, plus, for a row
  // listed in `reserved` (n_reserved ascending rows), the residual w - level rounded to fp16, which goes to
  // residuals at the row's place in the list; codes[r, i] and w[r, i] take the code and the value,
  // err[r, i - i1] = (w - value) / u[i, i], and err * u[i, j] is subtracted from w[r, j] for i < j < i2.
  virtual void claq_round_column(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i,
                                 int64_t i2, const float* levels, int n_levels, const int32_t* reserved,
                                 int n_reserved, float* residuals, uint8_t* codes, float* err, int64_t ld_err) = 0;

  // ---- QuantEase's coordinate-descent sweep with an affine grid (quant/quantease_device.hpp) ----
  // One block of columns [b0, b1) of a sweep over q and g [rows, cols] (b1 - b0 <= kMaxSweepBlock), every row, as
  // sweep_block in solver_quantease.cpp: in order, for column j, target = q[r, j] + g[r, j] / s[j, j]; value =
  // target when `relaxed`, otherwise target rounded on row r's affine grid (scale, zero) = (scales,
  // zeros)[group_of[j] * rows + r] with 2^bits levels, its code in codes[r, j] (left alone when relaxed);
  // delta[r, j - b0] = q[r, j] - value; q[r, j] = value; and, when that change is not zero, change * s[j, k] is
  // added to g[r, k] for j < k < b1. Columns from b1 on are left to the caller's GEMM. group_of is device memory.
  virtual void quantease_affine_block(float* q, float* g, int64_t rows, int64_t cols, const float* s, int64_t b0,
                                      int64_t b1, const float* scales, const float* zeros, const int32_t* group_of,
                                      int bits, bool relaxed, uint8_t* codes, float* delta, int64_t ld_delta) = 0;
  // c[i] = a[i] - b[i] for i < n.
  virtual void subtract(const float* a, const float* b, float* c, int64_t n) = 0;

  // ---- HIGGS's Hadamard rotation (quant/hadamard.hpp, orthonormal scaling) ----
  // Every row of w [rows, cols] (leading dimension ld): row <- R row, or R^T row when `inverse`, with
  // R = blockdiag(H_block diag(d_b) / sqrt(block)); block a power of two <= kMaxHadamardBlock dividing cols;
  // signs: cols device floats (+-1) or null. The same bits as hadamard_rotate_rows (kernels/portable/fwht.hpp).
  virtual void hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block,
                                    const float* signs, bool inverse) = 0;
  static constexpr int64_t kMaxHadamardBlock = 8192;
  // In place on a dense n x n matrix: a <- a^T (transpose_square), a[i][j] = a[j][i] = (a[i][j] + a[j][i]) / 2
  // (symmetrize_average).
  virtual void transpose_square(float* a, int64_t n) = 0;
  virtual void symmetrize_average(float* a, int64_t n) = 0;
};

}  // namespace sq
