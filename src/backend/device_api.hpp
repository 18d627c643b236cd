// What a compute device must offer so the offload backend (offload/offload_backend.hpp) can run the heavy
// linear algebra of the Backend interface on it: raw memory, copies between host and device, and the dense
// kernels on device pointers. Matrices are row-major fp32 with explicit leading dimensions, as in Backend.
//
// Two implementations: the CUDA one (cuda/cuda_device_api.cpp: cudaMalloc, cuBLAS, cuSOLVER) and a host
// stand-in used by the tests (tests/unit/host_device_api.hpp), which lets every line of the offload logic
// (tiling, budget, staging) be checked on a machine without a GPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sq {

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
};

}  // namespace sq
