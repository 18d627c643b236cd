// A Backend that forwards to another and measures the wall time of its Cholesky factorizations, so the job
// can report Cholesky apart from the rest of a layer's quantization without the solvers knowing about it.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

#include "backend/backend.hpp"

namespace sq {

class TimingBackend final : public Backend {
 public:
  explicit TimingBackend(Backend& inner) : inner_(inner) {}
  double cholesky_seconds() const { return double(cholesky_ns_.load()) * 1e-9; }

  std::string name() const override { return inner_.name(); }
  int threads() const override { return inner_.threads(); }
  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    inner_.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void syrk_ata(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                int64_t ldc) override {
    inner_.syrk_ata(n, k, alpha, a, lda, beta, c, ldc);
  }
  bool cholesky_inverse_upper(float* a, int64_t n, int64_t lda) override {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = inner_.cholesky_inverse_upper(a, n, lda);
    add(t0);
    return ok;
  }
  bool cholesky_upper(float* a, int64_t n, int64_t lda) override {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = inner_.cholesky_upper(a, n, lda);
    add(t0);
    return ok;
  }
  void set_device_memory_budget(uint64_t bytes) override { inner_.set_device_memory_budget(bytes); }
  uint64_t device_memory_peak() const override { return inner_.device_memory_peak(); }
  DeviceHandle* device() override { return inner_.device(); }
  void set_forward_matmul(MatmulInputs inputs) override { inner_.set_forward_matmul(inputs); }
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
    inner_.parallel_for(n, fn);
  }

 private:
  void add(std::chrono::steady_clock::time_point t0) {
    cholesky_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }
  Backend& inner_;
  std::atomic<int64_t> cholesky_ns_{0};
};

}  // namespace sq
