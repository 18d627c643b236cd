// Rounding to a lookup table: the level nearest to v. Shared by the CPU LUT grid (quant/grid_lut_kmeans.hpp)
// and the device GPTQ sweep (kernels/cuda/gptq_lut.cu), so both round every value alike.
#pragma once
#include "portable/portable.hpp"

namespace sq {

// Index of the level nearest to v in ascending levels[0..n) (the lower one on an exact tie).
SQ_PORTABLE inline int nearest_level(const float* levels, int n, float v) {
  int lo = 0, hi = n;  // first level >= v by binary search
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (levels[mid] < v) lo = mid + 1; else hi = mid;
  }
  if (lo == n) return n - 1;
  if (lo == 0) return 0;
  // Compare in double: the float differences could round an unequal pair to a tie.
  return double(v) - double(levels[lo - 1]) <= double(levels[lo]) - double(v) ? lo - 1 : lo;
}

}  // namespace sq
