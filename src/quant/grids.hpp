// Factories of the grids the presets use. Each grid's own header has the options behind the defaults.
#pragma once
#include <memory>

#include "quant/grid.hpp"

namespace sq {

std::unique_ptr<Grid> make_loss_aware_affine_grid(int bits, bool sym);
std::unique_ptr<Grid> make_lut_kmeans_grid(int bits);

}  // namespace sq
