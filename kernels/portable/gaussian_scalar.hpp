// The HIGGS scalar (p = 1) Gaussian grid in the GPTQ sweep: a group's per-row scale and the rounding of one
// value. Shared by the CPU grid (quant/grid_gaussian.cpp) and the device sweep (kernels/cuda/gptq_gaussian.cu).
#pragma once
#include <cmath>
#include <cstdint>

#include "portable/portable.hpp"

namespace sq {

// RMS of n values, summed in double in index order, rounded to float (before any fp16 storage rounding).
SQ_PORTABLE inline float rms_of(const float* w, int64_t n) {
  double ss = 0;
  for (int64_t j = 0; j < n; ++j) ss += double(w[j]) * w[j];
  return float(sqrt(ss / double(n)));
}

// The code of x on ascending levels whose n - 1 midpoints are mid: the number of midpoints below x (a value
// on a midpoint goes to the lower level), as std::lower_bound counts them.
SQ_PORTABLE inline int scalar_grid_code(const float* mid, int n_mid, float x) {
  int lo = 0, hi = n_mid;
  while (lo < hi) {
    const int m = (lo + hi) / 2;
    if (mid[m] < x) lo = m + 1; else hi = m;
  }
  return lo;
}

}  // namespace sq
