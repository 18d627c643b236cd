#include "quant/chunked_grids.hpp"

#include <algorithm>

#include "util/error.hpp"

namespace sq {

ChunkedGrids::ChunkedGrids(const Grid& grid, int64_t rows, int64_t n_groups, int64_t chunk_rows, QuantizedLayer& out)
    : grid_(grid),
      rows_(rows),
      n_groups_(n_groups),
      chunk_rows_(std::max<int64_t>(1, chunk_rows)),
      n_chunks_((rows + chunk_rows_ - 1) / chunk_rows_),
      out_(out),
      grids_(size_t(n_chunks_ * n_groups)) {
  if (grid.kind() == GridKind::Affine) {
    out.scales.assign(size_t(n_groups * rows), 0.0f);
    out.zeros.assign(size_t(n_groups * rows), 0.0f);
  } else if (grid.kind() == GridKind::Gaussian) {
    out.scales.assign(size_t(n_groups * rows), 0.0f);  // the grid itself is shared: only scales per row
  } else {
    out.lut.assign(size_t(n_groups * rows) << grid.bits(), 0.0f);
  }
}

void ChunkedGrids::fit(int64_t chunk, int64_t group, const float* w, int64_t ld, int64_t ncols,
                       const float* importance) {
  const int64_t r0 = chunk_begin(chunk), n = chunk_end(chunk) - r0;
  auto fitted_grid = grid_.fit(w, ld, n, ncols, importance);
  // Collect the chunk's parameters in a scratch layer, then place them at their rows.
  QuantizedLayer part;
  part.rows = n;
  part.bits = grid_.bits();
  fitted_grid->store(part);
  const size_t base = size_t(group * rows_ + r0);
  if (grid_.kind() == GridKind::Affine) {
    if (part.scales.size() != size_t(n) || part.zeros.size() != size_t(n))
      throw_error(SQ_ERR_INTERNAL, "affine grid stored ", part.scales.size(), " scales for ", n, " rows");
    std::copy(part.scales.begin(), part.scales.end(), out_.scales.begin() + std::ptrdiff_t(base));
    std::copy(part.zeros.begin(), part.zeros.end(), out_.zeros.begin() + std::ptrdiff_t(base));
  } else if (grid_.kind() == GridKind::Gaussian) {
    if (part.scales.size() != size_t(n))
      throw_error(SQ_ERR_INTERNAL, "Gaussian grid stored ", part.scales.size(), " scales for ", n, " rows");
    std::copy(part.scales.begin(), part.scales.end(), out_.scales.begin() + std::ptrdiff_t(base));
  } else {
    const size_t levels = size_t(1) << grid_.bits();
    if (part.lut.size() != size_t(n) * levels)
      throw_error(SQ_ERR_INTERNAL, "LUT grid stored ", part.lut.size(), " levels for ", n, " rows of ", levels);
    std::copy(part.lut.begin(), part.lut.end(), out_.lut.begin() + std::ptrdiff_t(base * levels));
  }
  grids_[size_t(chunk * n_groups_ + group)] = std::move(fitted_grid);
}

const GroupGrid& ChunkedGrids::at(int64_t chunk, int64_t group) const {
  const auto& g = slot(chunk, group);
  if (!g) throw_error(SQ_ERR_INTERNAL, "group ", group, " of row chunk ", chunk, " used before it was fitted");
  return *g;
}

int64_t default_chunk_rows(int64_t rows, int threads) {
  // At least 4 chunks per thread for load balance; at most 64 rows so a chunk x 128 columns fits L2.
  const int64_t per_thread = (rows + 4 * std::max(1, threads) - 1) / (4 * std::max(1, threads));
  return std::clamp<int64_t>(per_thread, 1, 64);
}

}  // namespace sq
