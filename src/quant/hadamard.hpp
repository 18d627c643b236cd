// Fast Walsh-Hadamard transform (FWHT) and the block-diagonal Hadamard rotation used by HIGGS.
//
// Hadamard matrices here follow the Sylvester construction: H_1 = [1], H_2n = [[H_n, H_n], [H_n, -H_n]],
// so H_n[i][j] = (-1)^popcount(i & j). H_n is symmetric and H_n H_n = n I.
//
// The rotation of a row w (length cols, a multiple of the block size h) is, block by block,
//   y_b = H_h (d_b * w_b) * c,   c = 1 (Unnormalized) or 1/sqrt(h) (Orthonormal),
// where d is an optional +-1 sign vector of length cols (d_b its slice for block b). As a matrix acting on
// row vectors: y = R w with R = blockdiag(c * H_h * diag(d_b)). With Orthonormal scaling R is orthogonal and
// its inverse is R^T = blockdiag(diag(d_b) * H_h / sqrt(h)).
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

enum class HadamardScale { Unnormalized, Orthonormal };

// True for the sizes the transforms accept: powers of two from 1 to kMaxHadamardSize.
constexpr int64_t kMaxHadamardSize = int64_t(1) << 16;
bool is_hadamard_size(int64_t n);

// In-place FWHT of x[0..n): x <- H_n x (Unnormalized) or H_n x / sqrt(n) (Orthonormal).
// Throws SQ_ERR_INVALID_ARGUMENT when n is not a supported size.
void fwht_inplace(float* x, int64_t n, HadamardScale scale = HadamardScale::Unnormalized);
void fwht_inplace(double* x, int64_t n, HadamardScale scale = HadamardScale::Unnormalized);

// Random +-1 signs, reproducible on every platform: std::mt19937_64 seeded with `seed` (the standard fixes
// its output sequence), one draw per entry in order i = 0, 1, ..., n-1; sign_i = -1 when the draw's top bit
// (bit 63) is set, +1 otherwise.
std::vector<float> hadamard_signs(int64_t n, uint64_t seed);

// Rotate every row of a row-major [rows, cols] matrix (leading dimension ld >= cols) in place:
// row <- R row, block size `block` (cols must be a multiple of it), signs = null or `cols` entries.
// Rows are processed in parallel on `threads` threads (0 = std::thread::hardware_concurrency()).
void hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block,
                          const float* signs, HadamardScale scale, int threads = 0);
void hadamard_rotate_rows(double* w, int64_t rows, int64_t cols, int64_t ld, int64_t block,
                          const double* signs, HadamardScale scale, int threads = 0);

// The inverse: row <- R^-1 row (for Orthonormal, R^T; for Unnormalized, R^T / h).
void hadamard_unrotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block,
                            const float* signs, HadamardScale scale, int threads = 0);

// Rotate a symmetric [n, n] Hessian into the basis of the orthonormal rotation: H <- R H R^T, with
// R = blockdiag(H_h diag(d_b) / sqrt(h)). If rows of W are rotated as W' = W R^T (each row w -> R w), the
// layer objective is preserved: tr((W - Q) H (W - Q)^T) = tr((W' - Q') H' (W' - Q')^T) for Q' = Q R^T.
// signs: null or n entries. The result is symmetrized exactly.
void hadamard_rotate_hessian(double* h, int64_t n, int64_t block, const double* signs, int threads = 0);
void hadamard_rotate_hessian(float* h, int64_t n, int64_t block, const float* signs, int threads = 0);

}  // namespace sq
