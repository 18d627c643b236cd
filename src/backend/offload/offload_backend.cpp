#include "backend/offload/offload_backend.hpp"

#include <algorithm>
#include <mutex>

#include "backend/offload/device_memory.hpp"
#include "backend/offload/gemm_tiles.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr size_t kF = sizeof(float);

class OffloadBackend final : public Backend {
 public:
  OffloadBackend(std::unique_ptr<DeviceApi> device, const OffloadOptions& opts)
      : dev_(std::move(device)), mem_(*dev_, opts.budget_bytes), opts_(opts),
        host_(make_cpu_backend(opts.host_threads)), handle_{*dev_, mem_, mu_} {}

  std::string name() const override { return dev_->name(); }
  int threads() const override { return host_->threads(); }
  void set_device_memory_budget(uint64_t bytes) override { mem_.set_budget(bytes); }
  uint64_t device_memory_peak() const override { return mem_.peak(); }
  DeviceHandle* device() override { return &handle_; }
  void set_forward_matmul(MatmulInputs inputs) override {
    std::lock_guard<std::mutex> lock(mu_);
    handle_.forward_inputs = inputs;
  }

  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    if (m == 0 || n == 0) return;
    if (k == 0 || 2.0 * double(m) * double(n) * double(k) < opts_.min_device_flops) {
      host_->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    device_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  void syrk_ata(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                int64_t ldc) override {
    if (n == 0) return;
    if (k == 0 || double(n) * double(n) * double(k) < opts_.min_device_flops) {
      host_->syrk_ata(n, k, alpha, a, lda, beta, c, ldc);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t c_bytes = DeviceMemory::rounded(uint64_t(n) * n * kF);
    const uint64_t row_bytes = DeviceMemory::rounded(uint64_t(n) * kF);
    const uint64_t avail = mem_.available();
    if (avail < c_bytes + row_bytes) {
      // C itself does not fit: tiled GEMM A^T A (twice the work), then make C exactly symmetric.
      device_gemm(true, false, n, n, k, alpha, a, lda, a, lda, beta, c, ldc);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < i; ++j) c[i * ldc + j] = c[j * ldc + i];
      return;
    }
    const int64_t chunk = std::min<int64_t>(k, int64_t((avail - c_bytes) / (uint64_t(n) * kF)));
    DeviceBuffer dc(mem_, size_t(n) * n * kF, "the SYRK output (Hessian)");
    DeviceBuffer da(mem_, size_t(chunk) * n * kF, "a SYRK input chunk (activations)");
    if (beta != 0.0f) dev_->upload(dc.get(), n * kF, c, ldc * kF, n * kF, size_t(n));
    for (int64_t k0 = 0; k0 < k; k0 += chunk) {
      const int64_t kk = std::min(chunk, k - k0);
      dev_->upload(da.get(), n * kF, a + k0 * lda, lda * kF, n * kF, size_t(kk));
      dev_->syrk_ata_upper(n, kk, alpha, da.f32(), n, k0 == 0 ? beta : 1.0f, dc.f32(), n);
    }
    dev_->mirror_upper(dc.f32(), n, n);
    dev_->download(c, ldc * kF, dc.get(), n * kF, n * kF, size_t(n));
  }

  bool cholesky_upper(float* a, int64_t n, int64_t lda) override {
    if (n == 0) return true;
    if (double(n) * double(n) * double(n) / 3 < opts_.min_device_flops) return host_->cholesky_upper(a, n, lda);
    std::lock_guard<std::mutex> lock(mu_);
    Factor f(*this, a, n, lda);
    if (!dev_->potrf_upper(f.a(), n, n, f.workspace())) return false;
    dev_->zero_lower(f.a(), n, n);
    f.download(a, lda);
    return true;
  }

  bool cholesky_inverse_upper(float* a, int64_t n, int64_t lda) override {
    if (n == 0) return true;
    if (double(n) * double(n) * double(n) < opts_.min_device_flops) return host_->cholesky_inverse_upper(a, n, lda);
    std::lock_guard<std::mutex> lock(mu_);
    Factor f(*this, a, n, lda);
    if (!dev_->potrf_upper(f.a(), n, n, f.workspace()) || !dev_->potri_upper(f.a(), n, n, f.workspace())) return false;
    dev_->mirror_upper(f.a(), n, n);
    if (!dev_->potrf_upper(f.a(), n, n, f.workspace())) return false;
    dev_->zero_lower(f.a(), n, n);
    f.download(a, lda);
    return true;
  }

  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
    host_->parallel_for(n, fn);
  }

 private:
  // A symmetric matrix and the factorization workspace on the device, uploaded from the host.
  class Factor {
   public:
    Factor(OffloadBackend& be, const float* a, int64_t n, int64_t lda)
        : be_(be), n_(n), mat_(be.mem_, size_t(n) * n * kF, "a Cholesky factorization (n x n Hessian)"),
          ws_(be.mem_, be.dev_->factor_workspace_bytes(mat_.f32(), n, n), "the Cholesky workspace") {
      be_.dev_->upload(mat_.get(), n * kF, a, lda * kF, n * kF, size_t(n));
    }
    float* a() const { return mat_.f32(); }
    void* workspace() const { return ws_.get(); }
    void download(float* a, int64_t lda) const { be_.dev_->download(a, lda * kF, mat_.get(), n_ * kF, n_ * kF, size_t(n_)); }

   private:
    OffloadBackend& be_;
    int64_t n_;
    DeviceBuffer mat_, ws_;
  };

  // Caller holds mu_. C = alpha op(A) op(B) + beta C, cut into tiles that fit the free budget.
  void device_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    const GemmTiles t = plan_gemm_tiles(m, n, k, mem_.available(), DeviceMemory::kGranule);
    if (t.m == 0) {
      char b1[32], b2[32];
      throw_error(SQ_ERR_OUT_OF_MEMORY, dev_->name(), ": a GEMM needs at least ",
                  format_bytes(3 * DeviceMemory::kGranule, b1), " of device memory for its tiles, but only ",
                  format_bytes(mem_.available(), b2), " of the budget is free; raise the budget (--gpu-mem-budget)");
    }
    DeviceBuffer da(mem_, size_t(t.m) * t.k * kF, "a GEMM tile of A");
    DeviceBuffer db(mem_, size_t(t.k) * t.n * kF, "a GEMM tile of B");
    DeviceBuffer dc(mem_, size_t(t.m) * t.n * kF, "a GEMM tile of C");
    // Which tile each buffer holds, so a tile needed again by the next step is not copied again.
    int64_t a_i0 = -1, a_k0 = -1, b_k0 = -1, b_j0 = -1;
    for (int64_t i0 = 0; i0 < m; i0 += t.m) {
      const int64_t mi = std::min(t.m, m - i0);
      for (int64_t j0 = 0; j0 < n; j0 += t.n) {
        const int64_t nj = std::min(t.n, n - j0);
        if (beta != 0.0f) dev_->upload(dc.get(), nj * kF, c + i0 * ldc + j0, ldc * kF, nj * kF, size_t(mi));
        for (int64_t k0 = 0; k0 < k; k0 += t.k) {
          const int64_t kk = std::min(t.k, k - k0);
          // op(A) tile = rows i0.., cols k0..; stored A is [m, k] (or [k, m] when transposed).
          if (a_i0 != i0 || a_k0 != k0) {
            if (!ta) dev_->upload(da.get(), kk * kF, a + i0 * lda + k0, lda * kF, kk * kF, size_t(mi));
            else dev_->upload(da.get(), mi * kF, a + k0 * lda + i0, lda * kF, mi * kF, size_t(kk));
            a_i0 = i0, a_k0 = k0;
          }
          // op(B) tile = rows k0.., cols j0..; stored B is [k, n] (or [n, k]).
          if (b_k0 != k0 || b_j0 != j0) {
            if (!tb) dev_->upload(db.get(), nj * kF, b + k0 * ldb + j0, ldb * kF, nj * kF, size_t(kk));
            else dev_->upload(db.get(), kk * kF, b + j0 * ldb + k0, ldb * kF, kk * kF, size_t(nj));
            b_k0 = k0, b_j0 = j0;
          }
          dev_->gemm(ta, tb, mi, nj, kk, alpha, da.f32(), ta ? mi : kk, db.f32(), tb ? kk : nj,
                     k0 == 0 ? beta : 1.0f, dc.f32(), nj);
        }
        dev_->download(c + i0 * ldc + j0, ldc * kF, dc.get(), nj * kF, nj * kF, size_t(mi));
      }
    }
  }

  std::unique_ptr<DeviceApi> dev_;
  DeviceMemory mem_;
  OffloadOptions opts_;
  std::unique_ptr<Backend> host_;
  std::mutex mu_;
  DeviceHandle handle_;
};

}  // namespace

std::unique_ptr<Backend> make_offload_backend(std::unique_ptr<DeviceApi> device, const OffloadOptions& opts) {
  if (!device) throw_error(SQ_ERR_INVALID_ARGUMENT, "offload backend: no device");
  return std::make_unique<OffloadBackend>(std::move(device), opts);
}

}  // namespace sq
