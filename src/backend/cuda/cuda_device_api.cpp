// DeviceApi on one CUDA GPU. Row-major matrices are handed to column-major cuBLAS/cuSOLVER as their
// transposes. All work is issued on one non-blocking stream and copies synchronize it, so each call's
// results are in place when it returns (the offload backend relies on that). The exceptions are
// download_async and upload_async: their copies run in order on a second stream, each after an event recorded
// on the first, so they overlap with the kernels issued after them (one copy stream for both directions: the
// streamed calibration passes move one sequence each way per sequence computed, a small part of its time).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "backend/cuda/cuda_backend.hpp"
#include "backend/offload/offload_backend.hpp"
#include "cuda/causal_softmax.cuh"
#include "cuda/claq_column.cuh"
#include "cuda/gptq_affine.cuh"
#include "cuda/gptq_gaussian.cuh"
#include "cuda/gptq_lut.cuh"
#include "cuda/hadamard.cuh"
#include "cuda/quantease_block.cuh"
#include "cuda/rms_norm.cuh"
#include "cuda/rope.cuh"
#include "cuda/row_bias.cuh"
#include "cuda/swiglu.cuh"
#include "cuda/symmetric.cuh"
#include "portable/loss_aware_affine.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  // Clear the runtime's last error (a no-op for a sticky one), so that a caller which catches this and goes on
  // does not see it reported again under the next kernel's name by that launcher's cudaGetLastError().
  (void)cudaGetLastError();
  throw_error(SQ_ERR_DEVICE, what, ": ", cudaGetErrorString(e));
}
// cuBLAS and cuSOLVER take dimensions, leading dimensions and batch counts as int: a larger one is an error,
// not a silent wrap.
int blas_int(int64_t v) {
  if (v < 0 || v > int64_t(std::numeric_limits<int>::max()))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "GPU matrix dimension ", v, " outside cuBLAS's int range [0, ",
                std::numeric_limits<int>::max(), "]");
  return int(v);
}
void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw_error(SQ_ERR_DEVICE, what, ": cuBLAS status ", int(s));
}
void check_cusolver(cusolverStatus_t s, const char* what) {
  if (s != CUSOLVER_STATUS_SUCCESS) throw_error(SQ_ERR_DEVICE, what, ": cuSOLVER status ", int(s));
}

class CudaDeviceApi final : public DeviceApi {
 public:
  explicit CudaDeviceApi(int device) : device_(device) {
    try {
      check_cuda(cudaSetDevice(device), ("cudaSetDevice(" + std::to_string(device) + ")").c_str());
      check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
      check_cublas(cublasCreate(&blas_), "cublasCreate");
      check_cublas(cublasSetStream(blas_, stream_), "cublasSetStream");
      // Plain fp32 arithmetic (no TF32) so results match the CPU reference to fp32 rounding.
      check_cublas(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      check_cusolver(cusolverDnCreate(&solver_), "cusolverDnCreate");
      check_cusolver(cusolverDnSetStream(solver_, stream_), "cusolverDnSetStream");
      check_cuda(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking), "cudaStreamCreate (copies)");
      check_cuda(cudaEventCreateWithFlags(&issued_, cudaEventDisableTiming), "cudaEventCreate");
      check_cuda(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming), "cudaEventCreate");
    } catch (...) {
      // A destructor does not run for a constructor that throws: give back what was created (a caller that
      // retries on a busy GPU would otherwise leak streams and library handles each time).
      destroy();
      throw;
    }
  }
  ~CudaDeviceApi() override { destroy(); }

  std::string name() const override { return "cuda:" + std::to_string(device_); }

  void* allocate(size_t bytes) override {
    select();
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the allocation error so the next checked call does not report it
      return nullptr;            // the device is full: DeviceMemory names what did not fit
    }
    // Anything else (a context an earlier kernel broke, ...) is not a matter of the budget.
    check_cuda(status, "cudaMalloc");
    return p;
  }
  void release(void* ptr) noexcept override {
    if (!ptr) return;
    (void)cudaSetDevice(device_);  // the calling thread's current device may be another GPU
    cudaFree(ptr);
  }

  void upload(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes,
              size_t rows) override {
    copy(dst, dst_pitch, src, src_pitch, row_bytes, rows, cudaMemcpyHostToDevice, "upload to the GPU");
  }
  void download(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes,
                size_t rows) override {
    copy(dst, dst_pitch, src, src_pitch, row_bytes, rows, cudaMemcpyDeviceToHost, "download from the GPU");
  }

  void* allocate_pinned(size_t bytes) override {
    select();
    void* p = nullptr;
    if (cudaHostAlloc(&p, bytes, cudaHostAllocDefault) != cudaSuccess) {
      (void)cudaGetLastError();  // a refusal is not an error: the caller falls back to ordinary memory
      return nullptr;
    }
    return p;
  }
  void release_pinned(void* ptr) noexcept override {
    if (!ptr) return;
    (void)cudaSetDevice(device_);
    cudaFreeHost(ptr);
  }
  void download_async(void* dst, const void* src, size_t bytes) override {
    queue_copy(dst, src, bytes, cudaMemcpyDeviceToHost, "download from the GPU");
  }
  void upload_async(void* dst, const void* src, size_t bytes) override {
    queue_copy(dst, src, bytes, cudaMemcpyHostToDevice, "upload to the GPU");
  }
  void kernels_wait_copies() override {
    select();
    check_cuda(cudaEventRecord(copied_, copy_stream_), "cudaEventRecord (copies)");
    check_cuda(cudaStreamWaitEvent(stream_, copied_, 0), "cudaStreamWaitEvent (copies)");
  }
  void wait_copies() override {
    select();
    check_cuda(cudaStreamSynchronize(copy_stream_), "a copy between the host and the GPU (waiting for it)");
  }

  void copy_on_device(void* dst, const void* src, size_t bytes) override {
    select();
    if (bytes == 0) return;
    check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy on the GPU");
  }

  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
            int64_t ldb, float beta, float* c, int64_t ldc) override {
    select();
    // Row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T.
    if (bf16_gemms_) {
      check_cublas(
          cublasGemmEx(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, blas_int(n), blas_int(m),
                       blas_int(k), &alpha, b, CUDA_R_32F, blas_int(ldb), a, CUDA_R_32F, blas_int(lda), &beta, c,
                       CUDA_R_32F, blas_int(ldc), CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx (bf16 inputs)");
      return;
    }
    check_cublas(
        cublasSgemm(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, blas_int(n), blas_int(m),
                    blas_int(k), &alpha, b, blas_int(ldb), a, blas_int(lda), &beta, c, blas_int(ldc)),
        "cublasSgemm");
  }

  void syrk_ata_upper(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                      int64_t ldc) override {
    select();
    // Row-major A [k, n] is the column-major n x k matrix A^T, so A^T A = (A^T)(A^T)^T: op N.
    // Column-major lower triangle == row-major upper triangle.
    check_cublas(cublasSsyrk(blas_, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, blas_int(n), blas_int(k), &alpha, a,
                             blas_int(lda), &beta, c, blas_int(ldc)),
                 "cublasSsyrk");
  }

  // Layout: the larger of the potrf/potri float workspaces, then one int for cuSOLVER's info flag.
  size_t factor_workspace_bytes(float* a, int64_t n, int64_t lda) override {
    return factor_floats(a, n, lda) * sizeof(float) + kInfoBytes;
  }
  // Column-major LOWER on the row-major matrix == row-major UPPER factor (A = U^T U).
  bool potrf_upper(float* a, int64_t n, int64_t lda, void* workspace) override {
    select();
    float* ws = static_cast<float*>(workspace);
    const int work = blas_int(int64_t(factor_floats(a, n, lda)));
    int* info = reinterpret_cast<int*>(ws + work);
    check_cusolver(cusolverDnSpotrf(solver_, CUBLAS_FILL_MODE_LOWER, blas_int(n), a, blas_int(lda), ws, work, info),
                   "cusolverDnSpotrf");
    return read_info(info, "cusolverDnSpotrf") == 0;
  }
  bool potri_upper(float* a, int64_t n, int64_t lda, void* workspace) override {
    select();
    float* ws = static_cast<float*>(workspace);
    const int work = blas_int(int64_t(factor_floats(a, n, lda)));
    int* info = reinterpret_cast<int*>(ws + work);
    check_cusolver(cusolverDnSpotri(solver_, CUBLAS_FILL_MODE_LOWER, blas_int(n), a, blas_int(lda), ws, work, info),
                   "cusolverDnSpotri");
    return read_info(info, "cusolverDnSpotri") == 0;
  }

  void mirror_upper(float* a, int64_t n, int64_t lda) override {
    select();
    check_cuda(cuda::launch_mirror_upper(a, n, lda, stream_), "mirror_upper kernel");
  }
  void zero_lower(float* a, int64_t n, int64_t lda) override {
    select();
    check_cuda(cuda::launch_zero_lower(a, n, lda, stream_), "zero_lower kernel");
  }

  void gemm_strided_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                            int64_t sa, const float* b, int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc,
                            int64_t sc, int64_t batch) override {
    select();
    // Row-major as in gemm: the column-major product C^T = op(B)^T op(A)^T, batch by batch.
    if (bf16_gemms_) {
      check_cublas(
          cublasGemmStridedBatchedEx(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, blas_int(n),
                                     blas_int(m), blas_int(k), &alpha, b, CUDA_R_32F, blas_int(ldb), sb, a, CUDA_R_32F,
                                     blas_int(lda), sa, &beta, c, CUDA_R_32F, blas_int(ldc), sc, blas_int(batch),
                                     CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx (bf16 inputs)");
      return;
    }
    check_cublas(cublasSgemmStridedBatched(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           blas_int(n), blas_int(m), blas_int(k), &alpha, b, blas_int(ldb), sb, a,
                                           blas_int(lda), sa, &beta, c, blas_int(ldc), sc, blas_int(batch)),
                 "cublasSgemmStridedBatched");
  }
  void rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* y) override {
    select();
    check_cuda(cuda::launch_rms_norm(x, weight, rows, dim, eps, y, stream_), "rms_norm kernel");
  }
  void rope(float* x, const float* cos, const float* sin, int64_t tokens, int64_t heads, int64_t head_dim) override {
    select();
    check_cuda(cuda::launch_rope(x, cos, sin, tokens, heads, head_dim, stream_), "rope kernel");
  }
  void silu_mul(float* gate, const float* up, int64_t n) override {
    select();
    check_cuda(cuda::launch_silu_mul(gate, up, n, stream_), "silu_mul kernel");
  }
  void add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols) override {
    select();
    check_cuda(cuda::launch_add_row_bias(y, bias, rows, cols, stream_), "add_row_bias kernel");
  }
  void causal_softmax(float* scores, int64_t tokens, int64_t batch, int64_t window) override {
    select();
    check_cuda(cuda::launch_causal_softmax(scores, tokens, batch, window, stream_), "causal_softmax kernel");
  }
  // TF32 and BF16 both set the TF32 math mode (which SYRK follows); BF16 GEMMs then go through cublasGemmEx
  // with CUBLAS_COMPUTE_32F_FAST_16BF: fp32 operands, rounded to bf16 inside the kernel, fp32 accumulation.
  void set_matmul_inputs(MatmulInputs inputs) override {
    check_cublas(cublasSetMathMode(blas_, inputs == MatmulInputs::FP32 ? CUBLAS_DEFAULT_MATH : CUBLAS_TF32_TENSOR_OP_MATH),
                 "cublasSetMathMode");
    bf16_gemms_ = inputs == MatmulInputs::BF16;
  }
  void synchronize() override {
    select();
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

  void minmax_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, int bits, bool sym,
                         bool f16_scales, float* scales, float* zeros) override {
    select();
    check_cuda(cuda::launch_minmax_affine_fit(w, ld, rows, width, bits, sym, f16_scales, scales, zeros, stream_),
               "minmax_affine_fit kernel");
  }
  void loss_aware_affine_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance,
                             int bits, bool sym, int shrink_steps, float min_factor, bool f16_scales, float* scales,
                             float* zeros, void* workspace, int64_t workspace_rows) override {
    static_assert(cuda::kMaxLossAwareWidth == kMaxLossAwareWidth && loss_aware::kMaxWarpRow == kMaxLossAwareWidth,
                  "one limit for the loss-aware warp kernel");
    select();
    if (loss_aware::fitted_by_team(width, bits)) {
      check_cuda(cuda::launch_loss_aware_team_fit(w, ld, rows, width, importance, bits, sym, shrink_steps, min_factor,
                                                  f16_scales, scales, zeros, workspace, workspace_rows, stream_),
                 "loss_aware_team_fit kernel");
      return;
    }
    check_cuda(cuda::launch_loss_aware_affine_fit(w, ld, rows, width, importance, bits, sym, shrink_steps, min_factor,
                                                  f16_scales, scales, zeros, stream_),
               "loss_aware_affine_fit kernel");
  }
  void gptq_affine_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                         const float* scales, const float* zeros, const int32_t* group_of, int bits, uint8_t* codes,
                         float* err, int64_t ld_err) override {
    static_assert(cuda::kMaxBlockColumns == kMaxSweepBlock, "one limit for the sweep block");
    select();
    check_cuda(cuda::launch_gptq_affine_block(w, rows, cols, u, i1, i2, scales, zeros, group_of, bits, codes, err,
                                              ld_err, stream_),
               "gptq_affine_block kernel");
  }
  void lut_kmeans_fit(const float* w, int64_t ld, int64_t rows, int64_t width, const float* importance, int levels,
                      float* lut, void* workspace, int64_t workspace_rows) override {
    select();
    check_cuda(cuda::launch_lut_kmeans_fit(w, ld, rows, width, importance, levels, lut, workspace, workspace_rows,
                                           stream_),
               "lut_kmeans_fit kernel");
  }
  void gptq_lut_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2, const float* lut,
                      const int32_t* group_of, int levels, uint8_t* codes, float* err, int64_t ld_err) override {
    select();
    check_cuda(cuda::launch_gptq_lut_block(w, rows, cols, u, i1, i2, lut, group_of, levels, codes, err, ld_err,
                                           stream_),
               "gptq_lut_block kernel");
  }
  void claq_column_fit(const float* w, int64_t rows, int64_t cols, int64_t column, int levels, int reserve,
                       float* levels_out, int32_t* reserved_out, void* workspace) override {
    select();
    check_cuda(cuda::launch_claq_column_fit(w, rows, cols, column, levels, reserve, levels_out, reserved_out, workspace,
                                            stream_),
               "claq_column_fit kernel");
  }
  void claq_round_column(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i, int64_t i2,
                         const float* levels, int n_levels, const int32_t* reserved, int n_reserved, float* residuals,
                         uint8_t* codes, float* err, int64_t ld_err) override {
    select();
    check_cuda(cuda::launch_claq_round_column(w, rows, cols, u, i1, i, i2, levels, n_levels, reserved, n_reserved,
                                              residuals, codes, err, ld_err, stream_),
               "claq_round_column kernel");
  }
  void rms_scale_fit(const float* w, int64_t ld, int64_t rows, int64_t width, bool f16_scales,
                     float* scales) override {
    select();
    check_cuda(cuda::launch_rms_scale_fit(w, ld, rows, width, f16_scales, scales, stream_), "rms_scale_fit kernel");
  }
  void gptq_gaussian_block(float* w, int64_t rows, int64_t cols, const float* u, int64_t i1, int64_t i2,
                           const float* scales, const int32_t* group_of, const float* points, const float* mid, int n,
                           uint8_t* codes, float* err, int64_t ld_err) override {
    select();
    check_cuda(cuda::launch_gptq_gaussian_block(w, rows, cols, u, i1, i2, scales, group_of, points, mid, n, codes,
                                                err, ld_err, stream_),
               "gptq_gaussian_block kernel");
  }
  void quantease_affine_block(float* q, float* g, int64_t rows, int64_t cols, const float* s, int64_t b0, int64_t b1,
                              const float* scales, const float* zeros, const int32_t* group_of, int bits, bool relaxed,
                              uint8_t* codes, float* delta, int64_t ld_delta) override {
    static_assert(cuda::kMaxQuantEaseBlock == kMaxSweepBlock, "one limit for the sweep block");
    select();
    check_cuda(cuda::launch_quantease_affine_block(q, g, rows, cols, s, b0, b1, scales, zeros, group_of, bits, relaxed,
                                                   codes, delta, ld_delta, stream_),
               "quantease_affine_block kernel");
  }
  void subtract(const float* a, const float* b, float* c, int64_t n) override {
    select();
    check_cuda(cuda::launch_subtract(a, b, c, n, stream_), "subtract kernel");
  }
  void hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block, const float* signs,
                            bool inverse) override {
    static_assert(cuda::kMaxHadamardBlock == kMaxHadamardBlock, "one limit for the Hadamard block");
    select();
    const float factor = float(1.0 / std::sqrt(double(block)));  // as quant/hadamard.cpp computes it
    check_cuda(cuda::launch_hadamard_rotate_rows(w, rows, cols, ld, block, signs, inverse, factor, stream_),
               "hadamard_rotate_rows kernel");
  }
  void transpose_square(float* a, int64_t n) override {
    select();
    check_cuda(cuda::launch_transpose_square(a, n, stream_), "transpose_square kernel");
  }
  void symmetrize_average(float* a, int64_t n) override {
    select();
    check_cuda(cuda::launch_symmetrize_average(a, n, stream_), "symmetrize_average kernel");
  }

 private:
  static constexpr size_t kInfoBytes = 16;
  // Every operation selects the device first: the calling host thread may never have selected it.
  void select() { check_cuda(cudaSetDevice(device_), "cudaSetDevice"); }
  size_t factor_floats(float* a, int64_t n, int64_t lda) {
    select();
    int w1 = 0, w2 = 0;
    check_cusolver(cusolverDnSpotrf_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, blas_int(n), a, blas_int(lda), &w1),
                   "cusolverDnSpotrf_bufferSize");
    check_cusolver(cusolverDnSpotri_bufferSize(solver_, CUBLAS_FILL_MODE_LOWER, blas_int(n), a, blas_int(lda), &w2),
                   "cusolverDnSpotri_bufferSize");
    return size_t(std::max(w1, w2));
  }

  void destroy() noexcept {
    (void)cudaSetDevice(device_);  // cublasDestroy synchronizes the current device
    if (copy_stream_) cudaStreamSynchronize(copy_stream_);
    if (issued_) cudaEventDestroy(issued_);
    if (copied_) cudaEventDestroy(copied_);
    if (copy_stream_) cudaStreamDestroy(copy_stream_);
    if (solver_) cusolverDnDestroy(solver_);
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
    issued_ = copied_ = nullptr;
    copy_stream_ = stream_ = nullptr;
    solver_ = nullptr;
    blas_ = nullptr;
  }

  // Contiguous copies (one row, or rows packed back to back) go as one flat copy: a 2-D copy refuses pitches
  // over the device's limit (2^31 - 1 bytes), which a whole LM head or a large MLP weight exceeds. Pitched
  // copies within that limit go as one 2-D copy, wider ones row by row.
  void copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes, size_t rows,
            cudaMemcpyKind kind, const char* what) {
    select();
    if (rows == 0 || row_bytes == 0) return;
    constexpr size_t kMaxPitch = 2147483647;
    if (rows == 1 || (dst_pitch == row_bytes && src_pitch == row_bytes)) {
      check_cuda(cudaMemcpyAsync(dst, src, row_bytes * rows, kind, stream_), what);
    } else if (dst_pitch <= kMaxPitch && src_pitch <= kMaxPitch) {
      check_cuda(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, row_bytes, rows, kind, stream_), what);
    } else {
      for (size_t r = 0; r < rows; ++r)
        check_cuda(cudaMemcpyAsync(static_cast<char*>(dst) + r * dst_pitch,
                                   static_cast<const char*>(src) + r * src_pitch, row_bytes, kind, stream_),
                   what);
    }
    check_cuda(cudaStreamSynchronize(stream_), what);
  }
  // An asynchronous copy on copy_stream_, after every kernel issued so far on stream_.
  void queue_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what) {
    select();
    if (bytes == 0) return;
    check_cuda(cudaEventRecord(issued_, stream_), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(copy_stream_, issued_, 0), "cudaStreamWaitEvent");
    check_cuda(cudaMemcpyAsync(dst, src, bytes, kind, copy_stream_), what);
  }
  int read_info(const int* dev_info, const char* what) {
    int info = 0;
    check_cuda(cudaMemcpyAsync(&info, dev_info, sizeof info, cudaMemcpyDeviceToHost, stream_), what);
    check_cuda(cudaStreamSynchronize(stream_), what);
    if (info < 0) throw_error(SQ_ERR_INTERNAL, what, ": invalid argument ", -info);
    return info;
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t copy_stream_ = nullptr;  // download_async, upload_async
  cudaEvent_t issued_ = nullptr;        // where on stream_ the next asynchronous copy starts
  cudaEvent_t copied_ = nullptr;        // where on copy_stream_ kernels_wait_copies() makes stream_ wait
  bool bf16_gemms_ = false;             // set_matmul_inputs(BF16)
  cublasHandle_t blas_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;
};

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

std::unique_ptr<DeviceApi> make_cuda_device_api(int device) {
  const int count = cuda_device_count();
  if (device < 0 || device >= count)
    throw_error(SQ_ERR_DEVICE, "CUDA device ", device, " not available (", count, " device(s) visible)");
  return std::make_unique<CudaDeviceApi>(device);
}

std::unique_ptr<Backend> make_cuda_backend(int device, int host_threads, uint64_t budget_bytes) {
  OffloadOptions opts;
  opts.budget_bytes = budget_bytes;
  opts.host_threads = host_threads;
  return make_offload_backend(make_cuda_device_api(device), opts);
}

}  // namespace sq
