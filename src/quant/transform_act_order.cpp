#include "quant/transform_act_order.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace sq {

std::vector<int32_t> act_order_permutation(const float* h, int64_t n, int64_t ldh) {
  std::vector<int32_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int32_t a, int32_t b) { return h[int64_t(a) * ldh + a] > h[int64_t(b) * ldh + b]; });
  return perm;
}

std::vector<int32_t> invert_permutation(const std::vector<int32_t>& perm) {
  std::vector<int32_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[size_t(perm[i])] = int32_t(i);
  return inverse;
}

void permute_symmetric(const float* src, int64_t ldsrc, const std::vector<int32_t>& perm, float* dst, int64_t lddst) {
  const int64_t n = int64_t(perm.size());
  for (int64_t i = 0; i < n; ++i) {
    const float* src_row = src + int64_t(perm[size_t(i)]) * ldsrc;
    float* dst_row = dst + i * lddst;
    for (int64_t j = 0; j < n; ++j) dst_row[j] = src_row[perm[size_t(j)]];
  }
}

void permute_columns_inplace(float* w, int64_t ld, int64_t row_begin, int64_t row_end, const std::vector<int32_t>& perm,
                             float* scratch) {
  const int64_t n = int64_t(perm.size());
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* row = w + r * ld;
    for (int64_t i = 0; i < n; ++i) scratch[i] = row[perm[size_t(i)]];
    std::memcpy(row, scratch, size_t(n) * sizeof(float));
  }
}

}  // namespace sq
