// Grids are per row, so a layer's rows split into chunks that are fitted and rounded independently:
// that is what lets the solvers run rows in parallel. ChunkedGrids owns the fitted GroupGrid of every
// (row chunk, group) pair and writes each group's parameters into the layer at its place
// (scales/zeros at [g * rows + r], LUT levels at [(g * rows + r) * 2^bits + code]; Gaussian grids: scales only).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/grid.hpp"
#include "quant/quantized_layer.hpp"

namespace sq {

class ChunkedGrids {
 public:
  // Sizes out.scales/zeros (affine), out.scales (Gaussian) or out.lut (LUT) for n_groups groups of `rows` rows.
  ChunkedGrids(const Grid& grid, int64_t rows, int64_t n_groups, int64_t chunk_rows, QuantizedLayer& out);

  int64_t n_chunks() const { return n_chunks_; }
  int64_t chunk_begin(int64_t chunk) const { return chunk * chunk_rows_; }
  int64_t chunk_end(int64_t chunk) const { return std::min(rows_, (chunk + 1) * chunk_rows_); }

  // Fit group `group` for the rows of `chunk`. w points at (first row of the chunk, first column of
  // the group); importance (ncols entries, nullable) at the group's first column. Thread-safe across
  // distinct chunks.
  void fit(int64_t chunk, int64_t group, const float* w, int64_t ld, int64_t ncols, const float* importance);
  const GroupGrid& at(int64_t chunk, int64_t group) const;
  bool fitted(int64_t chunk, int64_t group) const { return slot(chunk, group) != nullptr; }

 private:
  const std::unique_ptr<GroupGrid>& slot(int64_t chunk, int64_t group) const {
    return grids_[size_t(chunk * n_groups_ + group)];
  }
  const Grid& grid_;
  int64_t rows_, n_groups_, chunk_rows_, n_chunks_;
  QuantizedLayer& out_;
  std::vector<std::unique_ptr<GroupGrid>> grids_;
};

// Rows per chunk: small enough that a chunk's block of a 128-column sweep stays in cache, large
// enough that per-chunk overhead (one grid object per group) is negligible.
int64_t default_chunk_rows(int64_t rows, int threads);

}  // namespace sq
