// The result of quantizing one linear layer: codes plus the grid parameters needed to decode them.
// This is what sinks pack and write; `dequant` is the exact fp32 weight the quantizer meant.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

// Affine: value = scale * (code - zero), per row and group.      Lut: per-row (and group) level tables.
// ColumnLut: one level table per input column, shared by all rows (CLAQ's column k-means), with a bit
// width per column.   Gaussian: HIGGS's shared MSE-optimal grid of dimension p, scaled per row and group.
enum class GridKind { Affine, Lut, ColumnLut, Gaussian };

// The grid's name in stored schemes and messages ("affine", "lut", "column-lut", "gaussian").
inline const char* grid_kind_name(GridKind k) {
  static const char* names[] = {"affine", "lut", "column-lut", "gaussian"};
  return names[int(k)];
}

// Weights kept in full precision beside the grid (QuantEase outliers, CLAQ reserved outliers): a sparse
// matrix in CSR form, ADDED to the decoded grid values: w[r, col[i]] += val[i], i in [row_ptr[r], row_ptr[r+1]).
struct SparseOutliers {
  std::vector<int64_t> row_ptr;  // rows + 1 entries; empty when the layer has none
  std::vector<int32_t> col;
  std::vector<float> val;
  bool empty() const { return col.empty(); }
};

// A block-diagonal Hadamard rotation of the input dimension (HIGGS): the grid values live in the rotated
// basis and decode ends with row <- R^T row (hadamard.hpp). size 0 = no rotation.
struct HadamardRotation {
  int64_t size = 0;          // Hadamard block size h (a power of two), 0 = none
  bool random_signs = false; // signs = hadamard_signs(cols_padded, seed)
  uint64_t seed = 0;
  int64_t cols_padded = 0;   // cols rounded up to a multiple of h (the rotated rows are this long)
};

struct QuantizedLayer {
  int64_t rows = 0;        // out_features
  int64_t cols = 0;        // in_features
  int bits = 4;
  int64_t group_size = -1; // -1: one group per row (per-channel)
  bool sym = false;
  GridKind grid = GridKind::Affine;

  // Codes in the original (un-permuted) column order, row-major [rows, cols], values in [0, 2^bits).
  std::vector<uint8_t> codes;
  // Affine grids: value = scale * (code - zero), per group g and row r at [g * rows + r]. Zeros are
  // integers stored as float (GPTQ convention). n_groups = number of groups.
  int64_t n_groups = 1;
  std::vector<float> scales;
  std::vector<float> zeros;
  // LUT grids: per row r, levels at lut[(g * rows + r) * 2^bits + code] (g = group, usually one group).
  std::vector<float> lut;
  // Group of each input column (original order) and the act-order permutation (empty = identity):
  // perm[i] = original column quantized at step i.
  std::vector<int32_t> g_idx;
  std::vector<int32_t> perm;

  // ColumnLut grids: column k has column_bits[k] bits (`bits` is the largest) and its levels at
  // column_lut[column_lut_offset[k] + code].
  std::vector<uint8_t> column_bits;
  std::vector<int64_t> column_lut_offset;
  std::vector<float> column_lut;

  // Gaussian grids: the shared grid is gaussian_grid(grid_dim, grid_points) (gaussian_grids.hpp); codes are
  // [rows, rotation.cols_padded / grid_dim], one per grid_dim-vector of the rotated row; scales [n_groups, rows].
  int grid_dim = 1;
  int grid_points = 0;

  HadamardRotation rotation;
  SparseOutliers outliers;

  // Dequantized weights [rows, cols], original column order.
  std::vector<float> dequant;

  // Diagnostics.
  double objective = 0.0;   // tr((W - Q) H (W - Q)^T) with the un-damped H, or ||W - Q||_F^2 without H
  double damp_used = 0.0;   // relative damping finally used (after any automatic increase)
  std::string method;       // preset name
};

}  // namespace sq
