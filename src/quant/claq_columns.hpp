// CLAQ's per-column decisions, made once on the layer's original weights before the sweep
// (ALGORITHMS.md, "CLAQ"):
//  - outlier ratio OR_j = #{i : |W_ij| >= threshold * mean|W|} / rows (mean over the whole layer);
//  - adaptive precision: columns ranked by OR_j descending (ties: larger mean W_ij^2 first, then lower index);
//    for a target average B in [2, 3) the top round((B - 2) / 2 * cols) columns get 4 bits and the rest 2,
//    for B in [3, 4] the top round((B - 3) * cols) get 4 bits and the rest 3 (B = 2, 3, 4: uniform);
//  - outlier reservation: the top round(top_columns * cols) columns keep round(fraction_top * rows) of
//    their largest and as many of their smallest values in full precision, the others
//    round(fraction_rest * rows) per side (never more than (rows - 1) / 2 per side).
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

struct ClaqColumnOptions {
  double target_bits = 3.0;       // average code bits, [2, 4]
  double outlier_threshold = 13.0;
  double reserve_fraction_top = 0.0;   // per side, columns in the top reserve_top_columns
  double reserve_fraction_rest = 0.0;  // per side, the other columns
  double reserve_top_columns = 0.10;
};

struct ClaqColumnPlan {
  std::vector<double> outlier_ratio;      // per column
  std::vector<int32_t> ranking;           // columns, most outliers first
  std::vector<uint8_t> bits;              // per column: 2, 3 or 4
  std::vector<int32_t> reserve_per_side;  // per column
};

// w: rows x cols row-major, original column order. Throws SQ_ERR_INVALID_ARGUMENT on options out of range.
ClaqColumnPlan plan_claq_columns(const float* w, int64_t rows, int64_t cols, const ClaqColumnOptions& options);

// Average of plan.bits.
double mean_column_bits(const std::vector<uint8_t>& bits);

}  // namespace sq
