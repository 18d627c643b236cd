// A DeviceApi whose "device memory" is host memory and whose kernels are the CPU reference (OpenBLAS,
// LAPACKE, model/ops.hpp). With it the offload backend's staging, tiling and budget logic, and the device
// block forward's orchestration, run in every test, on any machine. New allocations are filled with NaN, so a tile the backend forgets to upload poisons the result
// instead of passing unnoticed; live bytes and the peak are recorded to check the budget from outside.
#pragma once
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/device_api.hpp"
#include "backend/offload/offload_backend.hpp"
#include "model/ops.hpp"
#include "portable/team_kmeans_fit.hpp"
#include "portable/gaussian_scalar.hpp"
#include "portable/kmeans_exact_row.hpp"
#include "portable/loss_aware_affine.hpp"
#include "portable/nearest_level.hpp"
#include "quant/grid_loss_aware_affine.hpp"
#include "quant/hadamard.hpp"
#include "quant/grid_minmax_affine.hpp"
#include "quant/quantized_layer.hpp"
#include "util/half.hpp"

namespace sq::test {

struct HostDeviceStats {
  std::mutex mu;
  std::map<void*, size_t> live;
  size_t live_bytes = 0, peak_bytes = 0, uploads = 0, uploaded_bytes = 0;
  size_t sweep_blocks = 0;     // gptq_*_block calls: whether a GPTQ sweep ran on the "device"
  size_t minmax_fits = 0;      // minmax_affine_fit calls
  size_t loss_aware_fits = 0;  // loss_aware_affine_fit calls
  size_t loss_aware_team_fits = 0;     // ... by the portable team program (loss_aware::fitted_by_team)
  size_t loss_aware_team_launches = 0;  // ... and the workspace-sized batches of rows they ran in
  size_t lut_fits = 0;         // lut_kmeans_fit calls
  size_t lut_launches = 0;     // ... and the workspace-sized batches of rows they ran in
  size_t gaussian_fits = 0;    // rms_scale_fit calls
  size_t claq_fits = 0;        // claq_column_fit calls
  size_t claq_rounds = 0;      // claq_round_column calls
  size_t hadamard_rotations = 0;  // hadamard_rotate_rows calls
  size_t quantease_blocks = 0;    // quantease_affine_block calls
  size_t rms_norms = 0;           // rms_norm calls: whether a block ran resident (model/device_block.hpp)
  size_t gemms = 0;               // gemm calls (a batched GEMM counts each product): the forward's work
  // Reduced GEMM inputs: TF32 is not emulated (the host keeps computing in fp32; the tests check when it is
  // asked for); BF16 is, by rounding gemm's inputs to bf16 (to nearest even) before the fp32 product.
  MatmulInputs matmul_now = MatmulInputs::FP32;
  size_t reduced_scopes = 0;       // set_matmul_inputs calls other than FP32
  size_t sweeps_under_reduced = 0;  // the quantizers' own arithmetic must stay fp32
  size_t fail_above = SIZE_MAX;  // allocations larger than this fail, as a full device would
  // Asynchronous copies are held back until kernels_wait_copies() or wait_copies() (or until a later
  // upload_async, which lands the copies queued before it: they run in order), the latest moment a real device
  // may finish them. So a host reader that does not wait sees stale bytes, a host writer that does not wait
  // changes the copy, and an upload's destination holds NaN until it lands, which poisons any kernel that
  // reads it without kernels_wait_copies().
  struct PendingCopy {
    void* dst;
    const void* src;
    size_t bytes;
    bool upload;
  };
  std::vector<PendingCopy> pending;
  size_t async_downloads = 0, async_uploads = 0, kernel_waits = 0, pinned_live = 0;
  size_t released_while_copying = 0;  // device memory released while a pending copy still uses it
  bool refuse_pinned = false;         // allocate_pinned fails, as on a system that limits locked memory
};

class HostDeviceApi final : public DeviceApi {
 public:
  explicit HostDeviceApi(HostDeviceStats& stats) : s_(stats) {}
  std::string name() const override { return "hostdev:0"; }

  void* allocate(size_t bytes) override {
    if (bytes > s_.fail_above) return nullptr;
    float* p = static_cast<float*>(std::malloc(bytes));
    for (size_t i = 0; i < bytes / sizeof(float); ++i) p[i] = std::nanf("");
    std::lock_guard<std::mutex> lock(s_.mu);
    s_.live[p] = bytes;
    s_.live_bytes += bytes;
    if (s_.live_bytes > s_.peak_bytes) s_.peak_bytes = s_.live_bytes;
    return p;
  }
  void release(void* ptr) noexcept override {
    std::lock_guard<std::mutex> lock(s_.mu);
    const auto* begin = static_cast<const char*>(ptr);
    for (const HostDeviceStats::PendingCopy& c : s_.pending) {
      const auto* device = static_cast<const char*>(c.upload ? c.dst : c.src);
      if (device >= begin && device < begin + s_.live[ptr]) ++s_.released_while_copying;
    }
    s_.live_bytes -= s_.live[ptr];
    s_.live.erase(ptr);
    std::free(ptr);
  }

  void upload(void* dst, size_t dp, const void* src, size_t sp, size_t row_bytes, size_t rows) override {
    copy(dst, dp, src, sp, row_bytes, rows);
    std::lock_guard<std::mutex> lock(s_.mu);
    ++s_.uploads;
    s_.uploaded_bytes += row_bytes * rows;
  }
  void download(void* dst, size_t dp, const void* src, size_t sp, size_t row_bytes, size_t rows) override {
    copy(dst, dp, src, sp, row_bytes, rows);
  }
  void copy_on_device(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }

  void* allocate_pinned(size_t bytes) override {
    if (s_.refuse_pinned) return nullptr;
    std::lock_guard<std::mutex> lock(s_.mu);
    ++s_.pinned_live;
    return std::malloc(bytes);
  }
  void release_pinned(void* ptr) noexcept override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(s_.mu);
    --s_.pinned_live;
    std::free(ptr);
  }
  void download_async(void* dst, const void* src, size_t bytes) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    s_.pending.push_back({dst, src, bytes, false});
    ++s_.async_downloads;
  }
  void upload_async(void* dst, const void* src, size_t bytes) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    land_pending();
    float* d = static_cast<float*>(dst);
    for (size_t i = 0; i < bytes / sizeof(float); ++i) d[i] = std::nanf("");
    s_.pending.push_back({dst, src, bytes, true});
    ++s_.async_uploads;
  }
  void kernels_wait_copies() override {
    std::lock_guard<std::mutex> lock(s_.mu);
    ++s_.kernel_waits;
    land_pending();
  }
  void wait_copies() override {
    std::lock_guard<std::mutex> lock(s_.mu);
    land_pending();
  }
  void land_pending() {  // with s_.mu held
    for (const HostDeviceStats::PendingCopy& c : s_.pending) std::memcpy(c.dst, c.src, c.bytes);
    s_.pending.clear();
  }

  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      ++s_.gemms;
    }
    std::vector<float> a16, b16;
    if (s_.matmul_now == MatmulInputs::BF16) {
      a16 = bf16_rounded(a, ta ? k : m, ta ? m : k, lda);
      b16 = bf16_rounded(b, tb ? n : k, tb ? k : n, ldb);
      a = a16.data();
      b = b16.data();
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(m),
                blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
  }
  // A copy of the rows x cols matrix x (leading dimension ld, same layout) with every value rounded to bf16.
  static std::vector<float> bf16_rounded(const float* x, int64_t rows, int64_t cols, int64_t ld) {
    std::vector<float> out(static_cast<size_t>(rows > 0 ? (rows - 1) * ld + cols : 0));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) out[size_t(r * ld + c)] = bf16_to_float(float_to_bf16(x[r * ld + c]));
    return out;
  }
  void syrk_ata_upper(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                      int64_t ldc) override {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(k), alpha, a, blasint(lda), beta, c,
                blasint(ldc));
  }
  size_t factor_workspace_bytes(float*, int64_t n, int64_t) override { return size_t(n) * sizeof(float); }
  bool potrf_upper(float* a, int64_t n, int64_t lda, void*) override {
    return LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'U', lapack_int(n), a, lapack_int(lda)) == 0;
  }
  bool potri_upper(float* a, int64_t n, int64_t lda, void*) override {
    return LAPACKE_spotri(LAPACK_ROW_MAJOR, 'U', lapack_int(n), a, lapack_int(lda)) == 0;
  }
  void mirror_upper(float* a, int64_t n, int64_t lda) override {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) a[i * lda + j] = a[j * lda + i];
  }
  void zero_lower(float* a, int64_t n, int64_t lda) override {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) a[i * lda + j] = 0.0f;
  }

  void gemm_strided_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                            int64_t lda, int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c,
                            int64_t ldc, int64_t sc, int64_t batch) override {
    for (int64_t i = 0; i < batch; ++i) gemm(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
  }
  void rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* y) override {
    ops::rms_norm(cpu(), x, weight, rows, dim, double(eps), y);
    std::lock_guard<std::mutex> lock(s_.mu);
    ++s_.rms_norms;
  }
  void rope(float* x, const float* cos, const float* sin, int64_t tokens, int64_t heads, int64_t head_dim) override {
    RopeTables t;
    t.max_tokens = tokens;
    t.half = head_dim / 2;
    t.cos.assign(cos, cos + tokens * t.half);
    t.sin.assign(sin, sin + tokens * t.half);
    ops::apply_rope(cpu(), t, x, tokens, heads, head_dim);
  }
  void silu_mul(float* gate, const float* up, int64_t n) override { ops::silu_mul(cpu(), gate, up, n); }
  void add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols) override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) y[r * cols + j] += bias[j];
  }
  void causal_softmax(float* s, int64_t tokens, int64_t batch, int64_t window) override {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < tokens; ++i) {
        float* row = s + (b * tokens + i) * tokens;
        const int64_t lo = window > 0 ? std::max<int64_t>(0, i - window + 1) : 0;
        float mx = -INFINITY, sum = 0.0f;
        for (int64_t j = lo; j <= i; ++j) mx = std::max(mx, row[j]);
        for (int64_t j = lo; j <= i; ++j) sum += (row[j] = std::exp(row[j] - mx));
        for (int64_t j = 0; j < tokens; ++j) row[j] = (j >= lo && j <= i) ? row[j] / sum : 0.0f;
      }
  }
  void synchronize() override {}
  void set_matmul_inputs(MatmulInputs inputs) override {
    std::lock_guard<std::mutex> lock(s_.mu);
    s_.matmul_now = inputs;
    if (inputs != MatmulInputs::FP32) ++s_.reduced_scopes;
  }

  void minmax_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, int bits, bool sym,
                         bool f16_scales, float* scales, float* zeros) override {
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      ++s_.minmax_fits;
    }
    const MinMaxAffineGrid grid(bits, sym, f16_scales ? ScaleStorage::F16 : ScaleStorage::F32);
    const auto fitted = grid.fit(w, ld, rows, width, nullptr);
    const auto& g = dynamic_cast<const AffineGroupGrid&>(*fitted);
    std::copy(g.scales().begin(), g.scales().end(), scales);
    std::copy(g.zeros().begin(), g.zeros().end(), zeros);
  }
  // Direct-sum regime: the CPU grid (the warp kernel reproduces it; kernel parity tests check that on a GPU).
  // Sorted regime: the portable team program the CUDA kernel runs, over the caller's workspace in batches of
  // workspace_rows rows as the launches lay it out, with the device's non-throwing scale rounding.
  void loss_aware_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                             int bits, bool sym, int shrink_steps, float min_factor, bool f16_scales, float* scales,
                             float* zeros, void* workspace, int64_t workspace_rows) override {
    ++s_.loss_aware_fits;
    if (loss_aware::fitted_by_team(width, bits)) {
      ++s_.loss_aware_team_fits;
      const int64_t row_bytes = loss_aware::team_fit_bytes(width, bits, shrink_steps, sym);
      const auto store = [f16_scales](float scale) {
        if (!f16_scales) return scale;
        const float s = half_to_float(float_to_half(scale));
        return s == 0.0f && scale > 0.0f ? half_to_float(uint16_t(1)) : s;
      };
      for (int64_t r0 = 0; r0 < rows; r0 += workspace_rows) {
        ++s_.loss_aware_team_launches;
        for (int64_t t = 0; t < workspace_rows && r0 + t < rows; ++t) {
          SequentialTeam team;
          loss_aware::team_fit(team, w + (r0 + t) * ld, importance, width, bits, sym, shrink_steps, min_factor, store,
                               static_cast<char*>(workspace) + t * row_bytes, scales + r0 + t, zeros + r0 + t);
        }
      }
      return;
    }
    LossAwareAffineOptions o;
    o.bits = bits;
    o.sym = sym;
    o.shrink_steps = shrink_steps;
    o.min_factor = min_factor;
    o.scale_storage = f16_scales ? ScaleStorage::F16 : ScaleStorage::F32;
    QuantizedLayer part;
    make_loss_aware_affine_grid(o)->fit(w, ld, rows, width, importance)->store(part);
    std::copy(part.scales.begin(), part.scales.end(), scales);
    std::copy(part.zeros.begin(), part.zeros.end(), zeros);
  }
  void gptq_affine_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                         const float* scales, const float* zeros, const int32_t* group_of, int bits, uint8_t* codes,
                         float* err, int64_t ld_err) override {
    sweep_block(w, rows, cols, u, i1, i2, group_of, codes, err, ld_err, [&](int64_t g, int64_t r, float x, int* code) {
      return affine_round(scales, zeros, rows, bits, g, r, x, code);
    });
  }
  // The portable team program the CUDA kernels run (kernels/portable/team_kmeans_fit.hpp), over the caller's
  // workspace, by a team of 512 "threads" (a kernel's block) running each phase's items in order.
  struct SequentialTeam {
    int size() const { return 512; }
    template <typename F>
    void for_each(int64_t n, const F& f) {
      for (int64_t i = 0; i < n; ++i) f(i);
    }
  };
  // The portable row fit the CUDA kernel runs (kernels/portable/kmeans_exact_row.hpp), over the caller's
  // workspace in batches of workspace_rows interleaved rows, as the kernel's launches lay it out: layer tests
  // over this stand-in then check the workspace sizing and the layout as well as the arithmetic.
  void lut_kmeans_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance, int levels,
                      float* lut, void* workspace, int64_t workspace_rows) override {
    ++s_.lut_fits;
    for (int64_t r0 = 0; r0 < rows; r0 += workspace_rows) {
      ++s_.lut_launches;
      for (int64_t t = 0; t < workspace_rows && r0 + t < rows; ++t) {
        const int64_t r = r0 + t;
        if (width > kMaxExactKMeansWidth) {  // one team per row, its scratch the t-th slice of the workspace
          SequentialTeam team;
          team_kmeans_fit(team, w + r * ld, 1, importance, int(width), levels, 0, TeamKMeansOptions{},
                          static_cast<char*>(workspace) + t * lut_kmeans_row_bytes(int(width), levels),
                          lut + r * levels, nullptr);
          continue;
        }
        const ExactKMeansScratch scratch = exact_kmeans_scratch(workspace, int(width), levels, workspace_rows, t);
        if (!exact_kmeans_row(w + r * ld, importance, int(width), levels, scratch, lut + r * levels))
          std::fill(lut + r * levels, lut + (r + 1) * levels, std::nanf(""));
      }
    }
  }
  void gptq_lut_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2, const float* lut,
                      const int32_t* group_of, int levels, uint8_t* codes, float* err, int64_t ld_err) override {
    sweep_block(w, rows, cols, u, i1, i2, group_of, codes, err, ld_err, [&](int64_t g, int64_t r, float x, int* code) {
      const float* row = lut + (g * rows + r) * levels;
      *code = nearest_level(row, levels, x);
      return row[*code];
    });
  }
  void claq_column_fit(const float* w, int64_t rows, int64_t cols, int64_t column, int levels, int reserve,
                       float* levels_out, int32_t* reserved_out, void* workspace) override {
    ++s_.claq_fits;
    SequentialTeam team;
    team_kmeans_fit(team, w + column, cols, nullptr, int(rows), levels, reserve, TeamKMeansOptions{}, workspace,
                    levels_out, reserved_out);
  }
  void claq_round_column(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i, int64_t i2,
                         const float* levels, int n_levels, const int32_t* reserved, int n_reserved, float* residuals,
                         uint8_t* codes, float* err, int64_t ld_err) override {
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      ++s_.claq_rounds;
      if (s_.matmul_now != MatmulInputs::FP32) ++s_.sweeps_under_reduced;
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* wr = w + r * cols;
      const float x = wr[i];
      const int code = nearest_level(levels, n_levels, x);
      float value = levels[code];
      const int32_t* at = std::lower_bound(reserved, reserved + n_reserved, int32_t(r));
      if (at != reserved + n_reserved && *at == r) {
        const float rest = half_to_float(float_to_half(x - levels[code]));
        value = levels[code] + rest;
        residuals[at - reserved] = rest;
      }
      const float e = (x - value) / u[i * cols + i];
      codes[r * cols + i] = uint8_t(code);
      err[r * ld_err + (i - i1)] = e;
      wr[i] = value;
      for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * u[i * cols + j];
    }
  }
  void rms_scale_fit(const float* w, int64_t ld, int64_t rows, int64_t width, bool f16_scales,
                     float* scales) override {
    ++s_.gaussian_fits;
    for (int64_t r = 0; r < rows; ++r) {
      const float rms = rms_of(w + r * ld, width);
      float stored = rms;
      if (f16_scales) {  // as the kernel: an overflow becomes inf for the caller to report, not an exception here
        stored = half_to_float(float_to_half(rms));
        if (stored == 0.0f && rms > 0.0f) stored = half_to_float(uint16_t(1));
      }
      scales[r] = stored;
    }
  }
  void gptq_gaussian_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                           const float* scales, const int32_t* group_of, const float* points, const float* mid, int n,
                           uint8_t* codes, float* err, int64_t ld_err) override {
    sweep_block(w, rows, cols, u, i1, i2, group_of, codes, err, ld_err, [&](int64_t g, int64_t r, float x, int* code) {
      const float s = scales[g * rows + r];
      *code = scalar_grid_code(mid, n - 1, s > 0 ? x / s : 0.0f);
      return s * points[*code];
    });
  }
  // Row by row in the kernel's order; per element the same arithmetic as sweep_block in solver_quantease.cpp.
  void quantease_affine_block(float* q, float* g, int64_t rows, int64_t cols, const float* s, int64_t b0, int64_t b1,
                              const float* scales, const float* zeros, const int32_t* group_of, int bits, bool relaxed,
                              uint8_t* codes, float* delta, int64_t ld_delta) override {
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      ++s_.quantease_blocks;
      if (s_.matmul_now != MatmulInputs::FP32) ++s_.sweeps_under_reduced;
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = b0; j < b1; ++j) {
        const float* s_row = s + j * cols;
        float* qr = q + r * cols;
        float* gr = g + r * cols;
        const float target = qr[j] + gr[j] / s_row[j];
        float value = target;
        if (!relaxed) {
          int code = 0;
          value = affine_round(scales, zeros, rows, bits, group_of[j], r, target, &code);
          codes[r * cols + j] = uint8_t(code);
        }
        const float change = qr[j] - value;
        delta[r * ld_delta + (j - b0)] = change;
        qr[j] = value;
        if (change != 0.0f)
          for (int64_t k = j + 1; k < b1; ++k) gr[k] += change * s_row[k];
      }
  }
  void subtract(const float* a, const float* b, float* c, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) c[i] = a[i] - b[i];
  }
  void hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block, const float* signs,
                            bool inverse) override {
    ++s_.hadamard_rotations;
    if (inverse)
      sq::hadamard_unrotate_rows(w, rows, cols, ld, block, signs, HadamardScale::Orthonormal, 1);
    else
      sq::hadamard_rotate_rows(w, rows, cols, ld, block, signs, HadamardScale::Orthonormal, 1);
  }
  void transpose_square(float* a, int64_t n) override {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) std::swap(a[i * n + j], a[j * n + i]);
  }
  void symmetrize_average(float* a, int64_t n) override {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) a[i * n + j] = a[j * n + i] = (a[i * n + j] + a[j * n + i]) / 2.0f;
  }

 private:
  static void copy(void* dst, size_t dp, const void* src, size_t sp, size_t row_bytes, size_t rows) {
    for (size_t r = 0; r < rows; ++r)
      std::memcpy(static_cast<char*>(dst) + r * dp, static_cast<const char*>(src) + r * sp, row_bytes);
  }
  static Backend& cpu() { return default_cpu_backend(); }
  // Row r's affine grid in group g, as kernels/cuda/affine_rounding.cuh rounds (AffineGroupGrid::quantize_column).
  static float affine_round(const float* scales, const float* zeros, int64_t rows, int bits, int64_t g, int64_t r,
                            float x, int* code) {
    const float maxq = float((1 << bits) - 1);
    const float scale = scales[g * rows + r], zero = zeros[g * rows + r];
    const float q = std::min(std::max(std::nearbyint(x / scale) + zero, 0.0f), maxq);
    *code = q == q ? int(q) : 0;  // a NaN grid (a failed fit, reported after the sweep) converts to 0, as on a GPU
    return scale * (q - zero);
  }
  // One block of the GPTQ sweep in the order of round_column_rows (solver_gptq.cpp); round(g, r, x, &code)
  // gives the value of x on row r's grid of group g.
  template <typename Round>
  void sweep_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                   const int32_t* group_of, uint8_t* codes, float* err, int64_t ld_err, const Round& round) {
    ++s_.sweep_blocks;
    if (s_.matmul_now != MatmulInputs::FP32) ++s_.sweeps_under_reduced;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = i1; i < i2; ++i) {
        float* wr = w + r * cols;
        int code = 0;
        const float value = round(int64_t(group_of[i]), r, wr[i], &code);
        const float e = (wr[i] - value) / u[i * cols + i];
        codes[r * cols + i] = uint8_t(code);
        err[r * ld_err + (i - i1)] = e;
        wr[i] = value;
        for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * u[i * cols + j];
      }
  }
  HostDeviceStats& s_;
};

// An offload backend over the stand-in, with the stand-in's statistics.
struct HostDeviceBackend {
  HostDeviceStats stats;
  std::unique_ptr<Backend> be;
  explicit HostDeviceBackend(uint64_t budget, double min_device_flops = double(1 << 26), int threads = 0) {
    OffloadOptions o;
    o.budget_bytes = budget;
    o.min_device_flops = min_device_flops;
    o.host_threads = threads;
    be = make_offload_backend(std::make_unique<HostDeviceApi>(stats), o);
  }
};

}  // namespace sq::test
