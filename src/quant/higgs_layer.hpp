// HIGGS layers as QuantizedLayer (GridKind::Gaussian): which grid a bit width names, the conversion from the
// data-free quantizer's HiggsLayer, and the decode formula every reader of a Gaussian layer uses.
//
// A Gaussian layer's codes live in the rotated basis: [rows, padded_cols / grid_dim], one code per
// grid_dim-vector of the rotated row; scales [n_groups, rows] with group g covering rotated columns
// [g * group_size, (g + 1) * group_size). `bits` is the width of one stored code, log2(grid_points), so a
// weight costs bits / grid_dim bits plus its share of a scale.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/grid_gaussian.hpp"
#include "quant/quantized_layer.hpp"

namespace sq {

// The Gaussian grid that spends `bits` bits per weight in dimension `grid_dim`: n = 2^(grid_dim * bits)
// points (p = 2: 16, 64, 256 points at 2, 3, 4 bits; p = 1: 4, 8, 16). Throws SQ_ERR_UNSUPPORTED naming the
// grids that exist when that grid is not shipped (e.g. 8 bits with p = 2, which would need 65536 points).
struct GaussianGridId {
  int p = 1;
  int n = 0;
};
GaussianGridId higgs_grid_for_bits(int bits, int grid_dim);

// Bits per weight of a Gaussian layer, codes plus one scale of `scale_bits` bits per group of `group_size`
// rotated columns: log2(n) / p + scale_bits / group_size (padding columns not counted).
double higgs_bits_per_weight(const GaussianGridId& grid, int64_t group_size, int scale_bits = 16);

// Rotated columns of a Gaussian layer: rotation.cols_padded when rotated, else cols.
int64_t gaussian_padded_cols(const QuantizedLayer& layer);

// The layer form of a data-free HIGGS result (codes, scales and dequant are moved out of `h`).
QuantizedLayer to_quantized_layer(HiggsLayer&& h, const std::string& method);

// Decode a Gaussian layer from codes, scales, grid and rotation alone: rotated row = scale * grid point per
// grid_dim-vector, then row <- R^T row (hadamard_unrotate_rows, orthonormal) and the padding cut.
// Throws SQ_ERR_FORMAT when the sizes do not fit together (the message names what is inconsistent).
std::vector<float> gaussian_layer_weights(const QuantizedLayer& layer, int threads = 0);

}  // namespace sq
