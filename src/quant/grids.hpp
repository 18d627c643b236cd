// Factories for the grids a method preset can name. Each returns a Grid (see grid.hpp) that the
// solvers use without knowing which one it is.
#pragma once
#include <memory>

#include "quant/grid.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

// Uniform affine grid from each row's min and max (GPTQ, RTN).
std::unique_ptr<Grid> make_minmax_affine_grid(int bits, bool sym, ScaleStorage storage = ScaleStorage::F16);

// LeanQuant affine grid: (scale, zero) chosen to minimize the importance-weighted rounding error.
std::unique_ptr<Grid> make_loss_aware_affine_grid(int bits, bool sym, ScaleStorage storage = ScaleStorage::F16);

// LeanQuant non-uniform grid: per-row lookup table of 2^bits levels by importance-weighted 1-D k-means.
// Levels stay fp32: our LUT output (lookup_table) is written in fp32, so no rounding is needed to make
// the quantizer's values equal what a reader decodes.
std::unique_ptr<Grid> make_lut_kmeans_grid(int bits);

}  // namespace sq
