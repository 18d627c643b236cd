#include "quant/grid_minmax_affine.hpp"

#include <algorithm>
#include <cmath>

#include "quant/grids.hpp"
#include "util/error.hpp"

namespace sq {

MinMaxAffineGrid::MinMaxAffineGrid(int bits, bool sym, ScaleStorage storage)
    : bits_(bits), sym_(sym), storage_(storage) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bits must be 2, 3, 4 or 8; got ", bits);
}

std::unique_ptr<GroupGrid> MinMaxAffineGrid::fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                                 const float* /*importance*/) const {
  const float maxq = float((1 << bits_) - 1);
  std::vector<float> scales(static_cast<size_t>(rows)), zeros(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * ld;
    float xmin = 0.0f, xmax = 0.0f;
    for (int64_t j = 0; j < ncols; ++j) {
      xmin = std::min(xmin, row[j]);
      xmax = std::max(xmax, row[j]);
    }
    if (sym_) {
      xmax = std::max(std::fabs(xmin), xmax);
      if (xmin < 0.0f) xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
      xmin = -1.0f;
      xmax = 1.0f;
    }
    const float scale = (xmax - xmin) / maxq;
    scales[size_t(r)] = stored_scale(scale, storage_);
    zeros[size_t(r)] = sym_ ? (maxq + 1.0f) / 2.0f : std::nearbyint(-xmin / scale);
  }
  return std::make_unique<AffineGroupGrid>(bits_, std::move(scales), std::move(zeros));
}

AffineGroupGrid::AffineGroupGrid(int bits, std::vector<float> scales, std::vector<float> zeros)
    : maxq_(float((1 << bits) - 1)), scales_(std::move(scales)), zeros_(std::move(zeros)) {}

void AffineGroupGrid::quantize_column(const float* w, int64_t rows, uint8_t* codes, float* values) const {
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = scales_[size_t(r)], zero = zeros_[size_t(r)];
    // nearbyint rounds half to even under the default rounding mode, like torch.round.
    const float q = std::min(std::max(std::nearbyint(w[r] / scale) + zero, 0.0f), maxq_);
    codes[r] = uint8_t(q);
    values[r] = scale * (q - zero);
  }
}

void AffineGroupGrid::store(QuantizedLayer& out) const {
  out.scales.insert(out.scales.end(), scales_.begin(), scales_.end());
  out.zeros.insert(out.zeros.end(), zeros_.begin(), zeros_.end());
}

}  // namespace sq

namespace sq {
std::unique_ptr<Grid> make_minmax_affine_grid(int bits, bool sym, ScaleStorage storage) {
  return std::make_unique<MinMaxAffineGrid>(bits, sym, storage);
}
}  // namespace sq
