// The result of quantizing one linear layer: codes plus the grid parameters needed to decode them.
// This is what sinks pack and write; `dequant` is the exact fp32 weight the quantizer meant.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

enum class GridKind { Affine, Lut };

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

  // Dequantized weights [rows, cols], original column order.
  std::vector<float> dequant;

  // Diagnostics.
  double objective = 0.0;   // tr((W - Q) H (W - Q)^T) with the un-damped H, or ||W - Q||_F^2 without H
  double damp_used = 0.0;   // relative damping finally used (after any automatic increase)
  std::string method;       // preset name
};

}  // namespace sq
