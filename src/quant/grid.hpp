// Grids: the set of values a weight may take, and how that set is fitted to data.
//
// A Grid fits a GroupGrid to a block of weights (all rows x the columns of one group). The solver then
// asks the GroupGrid to round one column at a time (GPTQ sweep) and records the parameters.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/quantized_layer.hpp"

namespace sq {

class GroupGrid {
 public:
  virtual ~GroupGrid() = default;
  // Round column values w[r] (one per row, r < rows) to the grid of row r: codes and values out.
  virtual void quantize_column(const float* w, int64_t rows, uint8_t* codes, float* values) const = 0;
  // Append this group's parameters to the layer (scales/zeros for affine, lut for LUT grids).
  virtual void store(QuantizedLayer& out) const = 0;
};

class Grid {
 public:
  virtual ~Grid() = default;
  virtual GridKind kind() const = 0;
  virtual int bits() const = 0;
  // Fit per-row grids to w (rows x ncols, leading dimension ld). importance (ncols entries, may be null)
  // weighs each column (LeanQuant: s_j = diag(H^-1)_j^-p).
  virtual std::unique_ptr<GroupGrid> fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                         const float* importance) const = 0;
};

}  // namespace sq
