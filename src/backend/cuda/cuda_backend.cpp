// CUDA backend. Row-major matrices are handed to column-major cuBLAS/cuSOLVER as their transposes.
#include "backend/cuda/cuda_backend.hpp"

#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "cuda/symmetric.cuh"
#include "util/error.hpp"

namespace sq {
namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw_error(SQ_ERR_DEVICE, what, ": ", cudaGetErrorString(e));
}
void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw_error(SQ_ERR_DEVICE, what, ": cuBLAS status ", int(s));
}
void check_cusolver(cusolverStatus_t s, const char* what) {
  if (s != CUSOLVER_STATUS_SUCCESS) throw_error(SQ_ERR_DEVICE, what, ": cuSOLVER status ", int(s));
}

// Device buffer owned by RAII (scratch for cuSOLVER workspaces and info flags).
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  explicit DeviceBuffer(size_t n) { check_cuda(cudaMalloc(&ptr, n * sizeof(T) + 1), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, int host_threads) : device_(device), host_(make_cpu_backend(host_threads)) {
    check_cuda(cudaSetDevice(device), ("cudaSetDevice(" + std::to_string(device) + ")").c_str());
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cublas(cublasCreate(&blas_), "cublasCreate");
    check_cublas(cublasSetStream(blas_, stream_), "cublasSetStream");
    check_cusolver(cusolverDnCreate(&solver_), "cusolverDnCreate");
    check_cusolver(cusolverDnSetStream(solver_, stream_), "cusolverDnSetStream");
  }
  ~CudaBackend() override {
    if (solver_) cusolverDnDestroy(solver_);
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  int threads() const override { return host_->threads(); }

  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    if (m == 0 || n == 0) return;
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T.
    check_cublas(cublasSgemm(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m),
                             int(k), &alpha, b, int(ldb), a, int(lda), &beta, c, int(ldc)),
                 "cublasSgemm");
  }

  void syrk_ata(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                int64_t ldc) override {
    if (n == 0) return;
    // Row-major A [k, n] is the column-major n x k matrix A^T, so A^T A = (A^T)(A^T)^T: op N.
    // Column-major lower triangle == row-major upper triangle; mirror it afterwards.
    check_cublas(cublasSsyrk(blas_, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, int(n), int(k), &alpha, a, int(lda), &beta,
                             c, int(ldc)),
                 "cublasSsyrk");
    check_cuda(cuda::launch_mirror_upper(c, n, ldc, stream_), "mirror_upper kernel");
  }

  bool cholesky_upper(float* a, int64_t n, int64_t lda) override {
    if (!potrf(a, n, lda)) return false;
    check_cuda(cuda::launch_zero_lower(a, n, lda, stream_), "zero_lower kernel");
    return true;
  }

  bool cholesky_inverse_upper(float* a, int64_t n, int64_t lda) override {
    if (!potrf(a, n, lda) || !potri(a, n, lda)) return false;
    check_cuda(cuda::launch_mirror_upper(a, n, lda, stream_), "mirror_upper kernel");
    if (!potrf(a, n, lda)) return false;
    check_cuda(cuda::launch_zero_lower(a, n, lda, stream_), "zero_lower kernel");
    return true;
  }

  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
    host_->parallel_for(n, fn);
  }

 private:
  // Column-major LOWER on the row-major matrix == row-major UPPER factor (A = U^T U).
  bool potrf(float* a, int64_t n, int64_t lda) {
    int work = 0;
    check_cusolver(cusolverDnSpotrf_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, int(n), a, int(lda), &work),
                   "cusolverDnSpotrf_bufferSize");
    DeviceBuffer<float> ws{size_t(work)};
    DeviceBuffer<int> info(1);
    check_cusolver(cusolverDnSpotrf(solver_, CUBLAS_FILL_MODE_LOWER, int(n), a, int(lda), ws.ptr, work, info.ptr),
                   "cusolverDnSpotrf");
    return read_info(info.ptr, "cusolverDnSpotrf") == 0;
  }
  bool potri(float* a, int64_t n, int64_t lda) {
    int work = 0;
    check_cusolver(cusolverDnSpotri_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, int(n), a, int(lda), &work),
                   "cusolverDnSpotri_bufferSize");
    DeviceBuffer<float> ws{size_t(work)};
    DeviceBuffer<int> info(1);
    check_cusolver(cusolverDnSpotri(solver_, CUBLAS_FILL_MODE_LOWER, int(n), a, int(lda), ws.ptr, work, info.ptr),
                   "cusolverDnSpotri");
    return read_info(info.ptr, "cusolverDnSpotri") == 0;
  }
  int read_info(const int* dev_info, const char* what) {
    int info = 0;
    check_cuda(cudaMemcpyAsync(&info, dev_info, sizeof info, cudaMemcpyDeviceToHost, stream_), what);
    check_cuda(cudaStreamSynchronize(stream_), what);
    if (info < 0) throw_error(SQ_ERR_INTERNAL, what, ": invalid argument ", -info);
    return info;
  }

  int device_;
  std::unique_ptr<Backend> host_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;
};

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(int device, int host_threads) {
  const int count = cuda_device_count();
  if (device < 0 || device >= count)
    throw_error(SQ_ERR_DEVICE, "CUDA device ", device, " not available (", count, " device(s) visible)");
  return std::make_unique<CudaBackend>(device, host_threads);
}

}  // namespace sq
