// Uniform b-bit affine grid fitted to each row's min and max: the grid of GPTQ and RTN.
//
// Conventions follow the published GPTQ quantizer exactly, so codes match checkpoints made by it:
//   xmin = min(0, min w), xmax = max(0, max w)        (the grid always contains 0)
//   sym:  xmax = max(|xmin|, xmax); xmin = -xmax only when xmin < 0; zero = (maxq + 1) / 2
//   xmin == xmax == 0 (an all-zero row): use [-1, 1] so the scale is never 0
//   scale = (xmax - xmin) / maxq, zero = round(-xmin / scale) (asym), round half to even
//   code = clamp(round(w / scale) + zero, 0, maxq), value = scale * (code - zero)
// All arithmetic is fp32, as in the reference, so ties round the same way. The scale is then stored
// as ScaleStorage says (fp16 by default, see scale_storage.hpp) and weights are rounded with that scale.
#pragma once
#include <memory>

#include "quant/grid.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

class MinMaxAffineGrid final : public Grid {
 public:
  MinMaxAffineGrid(int bits, bool sym, ScaleStorage storage = ScaleStorage::F16);
  GridKind kind() const override { return GridKind::Affine; }
  int bits() const override { return bits_; }
  // importance is ignored: min-max needs no weighting.
  std::unique_ptr<GroupGrid> fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                 const float* importance) const override;

 private:
  int bits_;
  bool sym_;
  ScaleStorage storage_;
};

// Affine rounding shared by every affine grid (min-max here, loss-aware elsewhere): per-row scale/zero.
class AffineGroupGrid final : public GroupGrid {
 public:
  AffineGroupGrid(int bits, std::vector<float> scales, std::vector<float> zeros);
  void quantize_column(const float* w, int64_t rows, uint8_t* codes, float* values) const override;
  void store(QuantizedLayer& out) const override;
  const std::vector<float>& scales() const { return scales_; }
  const std::vector<float>& zeros() const { return zeros_; }

 private:
  float maxq_;
  std::vector<float> scales_;
  std::vector<float> zeros_;
};

}  // namespace sq
