// The compute backend interface. The CPU backend (BLAS/LAPACK + threads) is the reference that every
// algorithm runs on; the CUDA backend implements the same interface and is checked against it.
//
// Matrices are row-major fp32 with explicit leading dimensions. Pointers passed to a backend are host
// memory for every backend: a device backend (offload/offload_backend.hpp) stages what it runs on the device,
// so each algorithm has one implementation that runs on all of them.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "backend/device_api.hpp"

namespace sq {

class DeviceMemory;

// The device of a device backend, for code that keeps data resident there across many operations (the
// decoder block forward on the device, the Hessians it feeds). The user holds `mutex` while it issues
// work, as the backend's own operations do, and allocates only through `memory` (the budget).
struct DeviceHandle {
  DeviceApi& api;
  DeviceMemory& memory;
  std::mutex& mutex;
  // What the block forward's GEMMs (and the Hessian accumulation) may round their inputs to
  // (sq_context_set_matmul_precision).
  MatmulInputs forward_inputs = MatmulInputs::FP32;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual int threads() const = 0;

  // C[m,n] = alpha * op(A) * op(B) + beta * C   (op = transpose when the flag is set)
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) = 0;

  // C[n,n] = alpha * A^T A + beta * C for A [k, n]; both triangles of C are filled.
  // This is the Hessian accumulation: H += (2/N) X^T X.
  virtual void syrk_ata(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                        int64_t ldc) = 0;

  // In place on a symmetric n x n matrix: A <- upper Cholesky factor U of A^-1 (A^-1 = U^T U),
  // lower triangle zeroed. Returns false (A unspecified) when A is not positive definite.
  virtual bool cholesky_inverse_upper(float* a, int64_t n, int64_t lda) = 0;

  // In place: A <- upper Cholesky factor of A (A = U^T U), lower triangle zeroed. False if not PD.
  virtual bool cholesky_upper(float* a, int64_t n, int64_t lda) = 0;

  // Device memory: the budget its allocations must stay under, and the most it has held at once
  // (bytes). A host-only backend has no device memory: the budget is ignored and the peak is 0.
  virtual void set_device_memory_budget(uint64_t /*bytes*/) {}
  virtual uint64_t device_memory_peak() const { return 0; }
  // Let the device's block forward and Hessians round GEMM inputs (see DeviceHandle); ignored without a device.
  virtual void set_forward_matmul(MatmulInputs /*inputs*/) {}
  // The backend's device; nullptr for a host-only backend.
  virtual DeviceHandle* device() { return nullptr; }

  // Run fn(begin, end) over [0, n) split across the backend's host threads.
  virtual void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) = 0;
};

// threads <= 0: all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int threads);

// A process-wide CPU backend for code paths that have no context (tests, tools).
Backend& default_cpu_backend();

}  // namespace sq
