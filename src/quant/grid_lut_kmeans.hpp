// LeanQuant non-uniform grid: per output row, 2^b levels fitted by importance-weighted 1-D k-means over
// the row's values in the group (weights s_j; ones without importance). Rounding picks the nearest level.
#pragma once
#include <memory>

#include "quant/grid.hpp"
#include "quant/kmeans_1d.hpp"
#include "portable/nearest_level.hpp"  // nearest_level, shared with the device sweep

namespace sq {

class Backend;

struct LutKMeansGridOptions {
  int bits = 4;                 // 1..8: 2^bits levels per row
  KMeans1dOptions kmeans;       // solver and its settings
  Backend* backend = nullptr;   // host threads for the per-row fits; null: the process-wide CPU backend
};

std::unique_ptr<Grid> make_lut_kmeans_grid(const LutKMeansGridOptions& options);

}  // namespace sq
