// Act-order transform: quantize the inputs with the largest Hessian diagonal first, so that the columns
// that matter most are rounded while the most error-compensation capacity is still left.
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

// perm[i] = original column placed at position i. Sorted by diag(H) descending; stable, so equal
// diagonals keep their original order (reproducible across runs and platforms).
std::vector<int32_t> act_order_permutation(const float* h, int64_t n, int64_t ldh);

// inverse[perm[i]] = i.
std::vector<int32_t> invert_permutation(const std::vector<int32_t>& perm);

// dst[i, j] = src[perm[i], perm[j]] for n x n matrices (dst must not alias src).
void permute_symmetric(const float* src, int64_t ldsrc, const std::vector<int32_t>& perm, float* dst, int64_t lddst);

// In place on a row-major matrix [rows, cols]: row r <- row r gathered by perm (column i <- column perm[i]).
// Rows are independent; `scratch` holds at least cols floats.
void permute_columns_inplace(float* w, int64_t ld, int64_t row_begin, int64_t row_end, const std::vector<int32_t>& perm,
                             float* scratch);

}  // namespace sq
