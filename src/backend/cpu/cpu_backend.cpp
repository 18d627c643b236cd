// CPU reference backend: OpenBLAS for GEMM/SYRK, LAPACKE for Cholesky, std::thread for parallel loops.
#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <cblas.h>
#include <lapacke.h>

#include "backend/backend.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// True on the worker threads of parallel_for. BLAS calls made there run single-threaded: letting each
// worker's call spawn BLAS threads of its own oversubscribes the cores (measured 8x slower on attention).
thread_local bool t_in_parallel_worker = false;

void zero_lower(float* a, int64_t n, int64_t lda) {
  for (int64_t i = 1; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) a[i * lda + j] = 0.0f;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    threads_ = threads > 0 ? threads : int(hw);
  }
  std::string name() const override { return "cpu"; }
  int threads() const override { return threads_; }

  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    if (m == 0 || n == 0) return;
    set_blas_threads();
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, blasint(m),
                blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc));
  }

  void syrk_ata(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                int64_t ldc) override {
    if (n == 0) return;
    set_blas_threads();
    // Row-major A [k, n]: A^T A is "C = alpha * A^T A" with trans = CblasTrans; fill the upper triangle,
    // then mirror it so callers always see a full symmetric matrix.
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(k), alpha, a, blasint(lda), beta, c,
                blasint(ldc));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) c[i * ldc + j] = c[j * ldc + i];
  }

  bool cholesky_upper(float* a, int64_t n, int64_t lda) override {
    if (LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'U', lapack_int(n), a, lapack_int(lda)) != 0) return false;
    zero_lower(a, n, lda);
    return true;
  }

  bool cholesky_inverse_upper(float* a, int64_t n, int64_t lda) override {
    // A -> chol(A) -> A^-1 (potri, upper triangle) -> chol(A^-1) upper.
    if (LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'U', lapack_int(n), a, lapack_int(lda)) != 0) return false;
    if (LAPACKE_spotri(LAPACK_ROW_MAJOR, 'U', lapack_int(n), a, lapack_int(lda)) != 0) return false;
    if (LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'U', lapack_int(n), a, lapack_int(lda)) != 0) return false;
    zero_lower(a, n, lda);
    return true;
  }

  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
    if (n <= 0) return;
    const int64_t workers = std::min<int64_t>(threads_, n);
    if (workers <= 1) {
      fn(0, n);
      return;
    }
    std::vector<std::thread> pool;
    std::exception_ptr first_error;
    std::mutex mu;
    const int64_t chunk = (n + workers - 1) / workers;
    for (int64_t w = 0; w < workers; ++w) {
      const int64_t b = w * chunk, e = std::min(n, b + chunk);
      if (b >= e) break;
      pool.emplace_back([&, b, e] {
        t_in_parallel_worker = true;
        try {
          fn(b, e);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!first_error) first_error = std::current_exception();
        }
      });
    }
    for (auto& t : pool) t.join();
    if (first_error) std::rethrow_exception(first_error);
  }

 private:
  void set_blas_threads() { openblas_set_num_threads(t_in_parallel_worker ? 1 : threads_); }
  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

Backend& default_cpu_backend() {
  static CpuBackend backend(0);
  return backend;
}

}  // namespace sq
