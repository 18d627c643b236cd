// LeanQuant non-uniform grid: per output row, 2^b levels fitted by importance-weighted 1-D k-means over
// the row's values in the group (weights s_j; ones without importance). Rounding picks the nearest level.
#pragma once
#include <memory>

#include "quant/grid.hpp"
#include "quant/kmeans_1d.hpp"

namespace sq {

class Backend;

struct LutKMeansGridOptions {
  int bits = 4;                 // 1..8: 2^bits levels per row
  KMeans1dOptions kmeans;       // solver and its settings
  Backend* backend = nullptr;   // host threads for the per-row fits; null: the process-wide CPU backend
};

std::unique_ptr<Grid> make_lut_kmeans_grid(const LutKMeansGridOptions& options);

// Index of the level nearest to v in ascending levels[0..n) (the lower one on an exact tie).
inline int nearest_level(const float* levels, int n, float v) {
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
