// MSE-optimal grids for the standard Gaussian N(0, I_p), used by HIGGS to round rotated, norm-scaled weights.
//
// The grids are data (src/quant/gaussian_grids_data.inc), generated offline by tools/make_gaussian_grids.py;
// its header comment records how and the measured MSE of each grid.
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

// One grid: n points of dimension p, stored point-major (points[c * p + k]). For p = 1 the points ascend.
struct GaussianGrid {
  int p = 1;
  int n = 0;
  const float* points = nullptr;  // static storage
  double mse = 0.0;               // E ||x - nearest(x)||^2 / p for x ~ N(0, I_p): MSE per dimension
  // Bits per weight of the codes alone: log2(n) / p.
  double bits_per_weight() const;
};

// All shipped grids, in the table's order.
const std::vector<GaussianGrid>& gaussian_grids();

// The grid with dimension p and n points. Throws SQ_ERR_UNSUPPORTED naming the (p, n) pairs available.
const GaussianGrid& gaussian_grid(int p, int n);

}  // namespace sq
