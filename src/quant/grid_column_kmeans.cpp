#include "quant/grid_column_kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "quant/grid_lut_kmeans.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {

ColumnKMeansGrid::ColumnKMeansGrid(int64_t rows, std::vector<uint8_t> bits, std::vector<int32_t> reserve_per_side,
                                   KMeans1dOptions kmeans)
    : rows_(rows), bits_(std::move(bits)), reserve_(std::move(reserve_per_side)), solver_(kmeans) {
  if (reserve_.size() != bits_.size())
    throw_error(SQ_ERR_INTERNAL, "column k-means grid: ", bits_.size(), " column bit widths but ", reserve_.size(),
                " reservation counts");
  level_offset_.resize(bits_.size() + 1, 0);
  for (size_t j = 0; j < bits_.size(); ++j) {
    if (bits_[j] < 1 || bits_[j] > 8)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "column k-means grid: column ", j, " has ", int(bits_[j]), " bits; need 1..8");
    if (reserve_[j] < 0 || 2 * int64_t(reserve_[j]) >= rows)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "column k-means grid: column ", j, " reserves ", reserve_[j],
                  " values per side of ", rows, " rows");
    level_offset_[j + 1] = level_offset_[j] + (int64_t(1) << bits_[j]);
  }
  levels_.assign(size_t(level_offset_.back()), 0.0f);
  reserved_rows_.resize(bits_.size());
  reserved_residual_.resize(bits_.size());
}

void ColumnKMeansGrid::fit(int64_t column, const float* values, int64_t rows) {
  if (rows != rows_ || column < 0 || size_t(column) >= bits_.size())
    throw_error(SQ_ERR_INTERNAL, "column k-means grid: fit of column ", column, " with ", rows, " rows; grid has ",
                bits_.size(), " columns of ", rows_, " rows");
  for (int64_t r = 0; r < rows; ++r)  // checked first: a reserved inf would otherwise escape the fit's check
    if (!std::isfinite(values[r]))
      throw_error(SQ_ERR_NUMERIC, "column k-means grid: working column ", column, " holds ", values[r], " in row ", r,
                  " (expected finite weights)");
  const int32_t k = reserve_[size_t(column)];
  std::vector<int32_t>& reserved = reserved_rows_[size_t(column)];
  reserved.clear();
  if (k > 0) {
    // The k smallest and k largest values (ties broken by row) leave the fit.
    order_.resize(size_t(rows));
    std::iota(order_.begin(), order_.end(), 0);
    const auto less = [&](int32_t a, int32_t b) { return values[a] < values[b] || (values[a] == values[b] && a < b); };
    std::nth_element(order_.begin(), order_.begin() + k, order_.end(), less);
    std::nth_element(order_.begin() + k, order_.end() - k, order_.end(), less);
    reserved.assign(order_.begin(), order_.begin() + k);
    reserved.insert(reserved.end(), order_.end() - k, order_.end());
    std::sort(reserved.begin(), reserved.end());
  }
  kept_.clear();
  size_t next = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (next < reserved.size() && reserved[next] == r) {
      ++next;
      continue;
    }
    kept_.push_back(values[r]);
  }
  const int levels = 1 << bits_[size_t(column)];
  const KMeans1dResult result = solver_.solve(kept_.data(), nullptr, int64_t(kept_.size()), levels);
  std::copy(result.centroids.begin(), result.centroids.end(), levels_.begin() + level_offset_[size_t(column)]);
  reserved_residual_[size_t(column)].assign(reserved.size(), 0.0f);
}

void ColumnKMeansGrid::set_column(int64_t column, const float* levels, const int32_t* reserved,
                                  const float* residuals) {
  const size_t c = size_t(column), n = size_t(2 * reserve_[c]);
  std::copy(levels, levels + (int64_t(1) << bits_[c]), levels_.begin() + level_offset_[c]);
  reserved_rows_[c].assign(reserved, reserved + n);
  reserved_residual_[c].assign(residuals, residuals + n);
}

void ColumnKMeansGrid::round(int64_t column, int64_t row_begin, const float* w, int64_t n, uint8_t* codes,
                             float* values) {
  const float* levels = levels_.data() + level_offset_[size_t(column)];
  const int count = 1 << bits_[size_t(column)];
  const std::vector<int32_t>& reserved = reserved_rows_[size_t(column)];
  std::vector<float>& residual = reserved_residual_[size_t(column)];
  size_t next = size_t(std::lower_bound(reserved.begin(), reserved.end(), int32_t(row_begin)) - reserved.begin());
  for (int64_t k = 0; k < n; ++k) {
    const int code = nearest_level(levels, count, w[k]);
    codes[k] = uint8_t(code);
    values[k] = levels[code];
    if (next < reserved.size() && reserved[next] == row_begin + k) {
      const float rest = half_to_float(float_to_half(w[k] - levels[code]));
      residual[next++] = rest;
      values[k] = levels[code] + rest;
    }
  }
}

void ColumnKMeansGrid::store(QuantizedLayer& out, const std::vector<int32_t>& perm) const {
  const int64_t cols = int64_t(bits_.size());
  const auto original = [&](int64_t i) { return perm.empty() ? i : int64_t(perm[size_t(i)]); };
  out.grid = GridKind::ColumnLut;
  out.column_bits.assign(size_t(cols), 0);
  for (int64_t i = 0; i < cols; ++i) out.column_bits[size_t(original(i))] = bits_[size_t(i)];
  out.column_lut_offset.assign(size_t(cols), 0);
  int64_t offset = 0, max_bits = 0;
  for (int64_t k = 0; k < cols; ++k) {
    out.column_lut_offset[size_t(k)] = offset;
    offset += int64_t(1) << out.column_bits[size_t(k)];
    max_bits = std::max<int64_t>(max_bits, out.column_bits[size_t(k)]);
  }
  out.bits = int(max_bits);
  out.column_lut.assign(size_t(offset), 0.0f);
  for (int64_t i = 0; i < cols; ++i) {
    const auto from = levels_.begin() + level_offset_[size_t(i)];
    std::copy(from, from + (int64_t(1) << bits_[size_t(i)]),
              out.column_lut.begin() + out.column_lut_offset[size_t(original(i))]);
  }
  // Outliers in CSR by row, original columns ascending within a row.
  std::vector<std::vector<std::pair<int32_t, float>>> by_row(static_cast<size_t>(rows_));
  for (int64_t i = 0; i < cols; ++i)
    for (size_t t = 0; t < reserved_rows_[size_t(i)].size(); ++t)
      by_row[size_t(reserved_rows_[size_t(i)][t])].emplace_back(int32_t(original(i)), reserved_residual_[size_t(i)][t]);
  out.outliers = SparseOutliers{};
  size_t total = 0;
  for (const auto& r : by_row) total += r.size();
  if (total == 0) return;
  out.outliers.row_ptr.assign(size_t(rows_ + 1), 0);
  for (int64_t r = 0; r < rows_; ++r) {
    auto& entries = by_row[size_t(r)];
    std::sort(entries.begin(), entries.end());
    for (const auto& [c, v] : entries) {
      out.outliers.col.push_back(c);
      out.outliers.val.push_back(v);
    }
    out.outliers.row_ptr[size_t(r + 1)] = int64_t(out.outliers.col.size());
  }
}

}  // namespace sq
