// A grid fitted per input column over all rows (CLAQ's column k-means), as opposed to the per-row grids
// of grid.hpp. The GPTQ sweep (gptq_sweep_columns) fits column i once, on its error-updated values across
// every row, and only then lets the row chunks round it in parallel.
#pragma once
#include <cstdint>

namespace sq {

class ColumnGrid {
 public:
  virtual ~ColumnGrid() = default;
  // Fit working column `column` to values[0..rows) (all rows, after error feedback). Called once per
  // column, in sweep order, before any row of the column is rounded.
  virtual void fit(int64_t column, const float* values, int64_t rows) = 0;
  // Round rows [row_begin, row_begin + n) of the fitted column: w[k] is row row_begin + k. Writes the code
  // and the value the layer will decode to. Thread-safe across disjoint row ranges of
  // one column (a grid may record per-row results, e.g. reserved outliers).
  virtual void round(int64_t column, int64_t row_begin, const float* w, int64_t n, uint8_t* codes,
                     float* values) = 0;
};

}  // namespace sq
