// CLAQ's column k-means grid: for each input column, 2^b_j levels fitted by unweighted 1-D k-means over the
// column's values across all rows, on the error-updated column just before the sweep rounds it.
// Reserved outliers: the column's reserve_per_side largest and smallest values (chosen on the same
// error-updated column) are left out of the k-means fit and kept in (near) full precision as a residual
// beside their nearest level: value = level + fp16(w - level). The residual is rounded to fp16 here, so the
// value the sweep feeds back as error is exactly what a reader decodes (level + residual in fp32).
#pragma once
#include <cstdint>
#include <vector>

#include "quant/column_grid.hpp"
#include "quant/kmeans_1d.hpp"
#include "quant/quantized_layer.hpp"

namespace sq {

class ColumnKMeansGrid final : public ColumnGrid {
 public:
  // bits (1..8) and reserve_per_side per working column (the sweep's column order).
  ColumnKMeansGrid(int64_t rows, std::vector<uint8_t> bits, std::vector<int32_t> reserve_per_side,
                   KMeans1dOptions kmeans = {});

  void fit(int64_t column, const float* values, int64_t rows) override;
  void round(int64_t column, int64_t row_begin, const float* w, int64_t n, uint8_t* codes, float* values) override;

  // Write column_bits / column_lut_offset / column_lut and the reserved outliers (CSR) into out, in the
  // original column order: working column i is original column perm[i] (perm empty = identity).
  void store(QuantizedLayer& out, const std::vector<int32_t>& perm) const;

  int64_t columns() const { return int64_t(bits_.size()); }
  int bits(int64_t column) const { return bits_[size_t(column)]; }
  int32_t reserve(int64_t column) const { return reserve_[size_t(column)]; }
  // The fitted levels (2^bits ascending) and reserved rows (ascending) of a working column.
  const float* levels(int64_t column) const { return levels_.data() + level_offset_[size_t(column)]; }
  const std::vector<int32_t>& reserved_rows(int64_t column) const { return reserved_rows_[size_t(column)]; }
  // Takes a column's fit and rounding done elsewhere (the device sweep, quant/solver_claq_device.hpp):
  // 2^bits levels, 2 * reserve reserved rows ascending and their residuals.
  void set_column(int64_t column, const float* levels, const int32_t* reserved, const float* residuals);

 private:
  int64_t rows_;
  std::vector<uint8_t> bits_;
  std::vector<int32_t> reserve_;
  std::vector<int64_t> level_offset_;   // working column -> first level in levels_
  std::vector<float> levels_;
  std::vector<std::vector<int32_t>> reserved_rows_;  // per working column, ascending
  std::vector<std::vector<float>> reserved_residual_;
  KMeans1dSolver solver_;
  std::vector<float> kept_;  // fit scratch
  std::vector<int32_t> order_;
};

}  // namespace sq
