#include "quant/claq_columns.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.hpp"

namespace sq {

ClaqColumnPlan plan_claq_columns(const float* w, int64_t rows, int64_t cols, const ClaqColumnOptions& o) {
  if (!(o.target_bits >= 2.0 && o.target_bits <= 4.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "CLAQ target bits must be in [2, 4]; got ", o.target_bits);
  if (!(o.outlier_threshold > 0.0))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "CLAQ outlier_threshold must be positive; got ", o.outlier_threshold);
  const auto check_fraction = [](const char* key, double f, double max) {
    if (!(f >= 0.0 && f <= max))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "CLAQ option '", key, "' must be in [0, ", max, "]; got ", f);
  };
  check_fraction("reserve_fraction", o.reserve_fraction_top, 0.5);
  check_fraction("reserve_fraction_rest", o.reserve_fraction_rest, 0.5);
  check_fraction("reserve_top_columns", o.reserve_top_columns, 1.0);
  ClaqColumnPlan plan;
  double mean_abs = 0;
  for (int64_t i = 0; i < rows * cols; ++i) mean_abs += std::fabs(double(w[i]));
  mean_abs /= double(rows * cols);
  const double threshold = o.outlier_threshold * mean_abs;
  std::vector<int64_t> count(size_t(cols), 0);
  std::vector<double> sum_sq(size_t(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const double v = w[r * cols + j];
      count[size_t(j)] += std::fabs(v) >= threshold && threshold > 0;
      sum_sq[size_t(j)] += v * v;
    }
  plan.outlier_ratio.resize(size_t(cols));
  for (int64_t j = 0; j < cols; ++j) plan.outlier_ratio[size_t(j)] = double(count[size_t(j)]) / double(rows);

  plan.ranking.resize(size_t(cols));
  std::iota(plan.ranking.begin(), plan.ranking.end(), 0);
  // Most columns of a typical layer have no outlier at all: the energy tie-break still puts the heavier
  // columns first, which is CLAQ's alternative ranking.
  std::stable_sort(plan.ranking.begin(), plan.ranking.end(), [&](int32_t a, int32_t b) {
    if (count[size_t(a)] != count[size_t(b)]) return count[size_t(a)] > count[size_t(b)];
    return sum_sq[size_t(a)] > sum_sq[size_t(b)];
  });

  const bool low = o.target_bits < 3.0;
  const double high_fraction = low ? (o.target_bits - 2.0) / 2.0 : o.target_bits - 3.0;
  const int64_t n_high = std::min<int64_t>(cols, std::llround(high_fraction * double(cols)));
  plan.bits.assign(size_t(cols), uint8_t(low ? 2 : 3));
  for (int64_t i = 0; i < n_high; ++i) plan.bits[size_t(plan.ranking[size_t(i)])] = 4;

  const int64_t max_side = (rows - 1) / 2;
  const auto per_side = [&](double f) { return int32_t(std::min<int64_t>(max_side, std::llround(f * double(rows)))); };
  const int64_t n_top = std::min<int64_t>(cols, std::llround(o.reserve_top_columns * double(cols)));
  plan.reserve_per_side.assign(size_t(cols), per_side(o.reserve_fraction_rest));
  for (int64_t i = 0; i < n_top; ++i) plan.reserve_per_side[size_t(plan.ranking[size_t(i)])] = per_side(o.reserve_fraction_top);
  return plan;
}

double mean_column_bits(const std::vector<uint8_t>& bits) {
  if (bits.empty()) return 0.0;
  double s = 0;
  for (uint8_t b : bits) s += b;
  return s / double(bits.size());
}

}  // namespace sq
