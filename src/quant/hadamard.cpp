#include "quant/hadamard.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "quant/parallel_rows.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// GCC on x86-64 builds the butterflies once per ISA and picks at load time, so a portable (SSE2) build
// still runs AVX2 code where the CPU has it. Elsewhere the plain loop is compiled for the target as usual.
// Not under ThreadSanitizer: the clone's ifunc resolver is instrumented and runs at relocation time, before
// the TSan runtime is initialised, and crashes the program on start.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
#define SQ_FWHT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SQ_FWHT_CLONES
#endif

// The first three stages (butterfly spans 1, 2, 4) on one chunk of 8: straight-line code, because loops
// over spans this short do not vectorize.
template <typename T>
__attribute__((always_inline)) inline void fwht8(T* x) {
  const T a0 = x[0] + x[1], a1 = x[0] - x[1], a2 = x[2] + x[3], a3 = x[2] - x[3];
  const T a4 = x[4] + x[5], a5 = x[4] - x[5], a6 = x[6] + x[7], a7 = x[6] - x[7];
  const T b0 = a0 + a2, b2 = a0 - a2, b1 = a1 + a3, b3 = a1 - a3;
  const T b4 = a4 + a6, b6 = a4 - a6, b5 = a5 + a7, b7 = a5 - a7;
  x[0] = b0 + b4; x[4] = b0 - b4; x[1] = b1 + b5; x[5] = b1 - b5;
  x[2] = b2 + b6; x[6] = b2 - b6; x[3] = b3 + b7; x[7] = b3 - b7;
}

// Unnormalized FWHT, iterative. After the 8-point chunks, stages are fused two at a time (radix 4: one pass
// over memory per two stages); each inner loop runs over contiguous spans so it vectorizes.
template <typename T>
__attribute__((always_inline)) inline void fwht_kernel(T* x, int64_t n) {
  int64_t span = 1;
  if (n >= 8) {
    for (int64_t i = 0; i < n; i += 8) fwht8(x + i);
    span = 8;
  }
  for (; span * 4 <= n; span *= 4) {
    for (int64_t i = 0; i < n; i += 4 * span) {
      T* __restrict a = x + i;
      T* __restrict b = a + span;
      T* __restrict c = b + span;
      T* __restrict d = c + span;
      for (int64_t j = 0; j < span; ++j) {
        const T ab = a[j] + b[j], amb = a[j] - b[j], cd = c[j] + d[j], cmd = c[j] - d[j];
        a[j] = ab + cd;
        c[j] = ab - cd;
        b[j] = amb + cmd;
        d[j] = amb - cmd;
      }
    }
  }
  for (; span < n; span *= 2) {
    for (int64_t i = 0; i < n; i += 2 * span) {
      T* __restrict a = x + i;
      T* __restrict b = a + span;
      for (int64_t j = 0; j < span; ++j) {
        const T u = a[j], v = b[j];
        a[j] = u + v;
        b[j] = u - v;
      }
    }
  }
}

// Non-template entry points, so each gets the per-ISA clones with the kernel inlined into them.
SQ_FWHT_CLONES void fwht_unnormalized(float* x, int64_t n) { fwht_kernel(x, n); }
SQ_FWHT_CLONES void fwht_unnormalized(double* x, int64_t n) { fwht_kernel(x, n); }

void check_size(int64_t n, const char* what) {
  if (!is_hadamard_size(n))
    throw_error(SQ_ERR_INVALID_ARGUMENT, what, ": Hadamard size must be a power of two in [1, ",
                kMaxHadamardSize, "]; got ", n);
}

void check_matrix(int64_t rows, int64_t cols, int64_t ld, int64_t block, const char* what) {
  check_size(block, what);
  if (rows < 0 || cols < 0 || ld < cols)
    throw_error(SQ_ERR_INVALID_ARGUMENT, what, ": bad shape rows=", rows, " cols=", cols, " ld=", ld);
  if (cols % block != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, what, ": cols (", cols, ") must be a multiple of the Hadamard block (",
                block, "); pad the columns first");
}

template <typename T>
void rotate_rows(T* w, int64_t rows, int64_t cols, int64_t ld, int64_t block, const T* signs,
                 HadamardScale scale, bool inverse, int threads) {
  check_matrix(rows, cols, ld, block, inverse ? "hadamard_unrotate_rows" : "hadamard_rotate_rows");
  const double h = double(block);
  // Forward: c * H (d * w). Inverse: d * (H y) * c', c' = 1/sqrt(h) (orthonormal) or 1/h (unnormalized).
  const T factor = T(scale == HadamardScale::Orthonormal ? 1.0 / std::sqrt(h) : (inverse ? 1.0 / h : 1.0));
  parallel_rows(rows, threads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* row = w + r * ld;
      if (signs && !inverse)
        for (int64_t j = 0; j < cols; ++j) row[j] *= signs[j];
      for (int64_t b = 0; b < cols; b += block) fwht_unnormalized(row + b, block);
      if (signs && inverse) {
        for (int64_t j = 0; j < cols; ++j) row[j] *= signs[j] * factor;
      } else if (factor != T(1)) {
        for (int64_t j = 0; j < cols; ++j) row[j] *= factor;
      }
    }
  }, /*min_rows_per_thread=*/4);
}

template <typename T>
void transpose_square_inplace(T* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) std::swap(a[i * n + j], a[j * n + i]);
}

template <typename T>
void rotate_hessian(T* h, int64_t n, int64_t block, const T* signs, int threads) {
  // Rotating each row of H gives H R^T; for symmetric H its transpose is R H; rotating rows again gives
  // R H R^T. Rounding leaves it slightly asymmetric, so average the two triangles.
  rotate_rows(h, n, n, n, block, signs, HadamardScale::Orthonormal, false, threads);
  transpose_square_inplace(h, n);
  rotate_rows(h, n, n, n, block, signs, HadamardScale::Orthonormal, false, threads);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const T m = (h[i * n + j] + h[j * n + i]) / T(2);
      h[i * n + j] = m;
      h[j * n + i] = m;
    }
}

template <typename T>
void fwht_scaled(T* x, int64_t n, HadamardScale scale) {
  check_size(n, "fwht_inplace");
  fwht_unnormalized(x, n);
  if (scale == HadamardScale::Orthonormal) {
    const T f = T(1.0 / std::sqrt(double(n)));
    for (int64_t i = 0; i < n; ++i) x[i] *= f;
  }
}

}  // namespace

bool is_hadamard_size(int64_t n) { return n >= 1 && n <= kMaxHadamardSize && (n & (n - 1)) == 0; }

void fwht_inplace(float* x, int64_t n, HadamardScale scale) { fwht_scaled(x, n, scale); }
void fwht_inplace(double* x, int64_t n, HadamardScale scale) { fwht_scaled(x, n, scale); }

std::vector<float> hadamard_signs(int64_t n, uint64_t seed) {
  if (n < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "hadamard_signs: length must be >= 0; got ", n);
  std::mt19937_64 gen(seed);
  std::vector<float> s(static_cast<size_t>(n));
  for (auto& v : s) v = (gen() >> 63) ? -1.0f : 1.0f;
  return s;
}

void hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block, const float* signs,
                          HadamardScale scale, int threads) {
  rotate_rows(w, rows, cols, ld, block, signs, scale, false, threads);
}
void hadamard_rotate_rows(double* w, int64_t rows, int64_t cols, int64_t ld, int64_t block, const double* signs,
                          HadamardScale scale, int threads) {
  rotate_rows(w, rows, cols, ld, block, signs, scale, false, threads);
}
void hadamard_unrotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block, const float* signs,
                            HadamardScale scale, int threads) {
  rotate_rows(w, rows, cols, ld, block, signs, scale, true, threads);
}

void hadamard_rotate_hessian(double* h, int64_t n, int64_t block, const double* signs, int threads) {
  rotate_hessian(h, n, block, signs, threads);
}
void hadamard_rotate_hessian(float* h, int64_t n, int64_t block, const float* signs, int threads) {
  rotate_hessian(h, n, block, signs, threads);
}

}  // namespace sq
