// HIGGS: data-free quantization onto MSE-optimal Gaussian grids after a Hadamard rotation
// ("Pushing the Limits of Large Language Model Quantization via the Linearity Theorem", arXiv 2411.17525).
//
// Per row of W [rows, cols], columns zero-padded to a multiple of the Hadamard size h:
//   r = R w                       orthonormal block rotation, R = blockdiag(H_h diag(d_b) / sqrt(h)),
//                                 d = random signs from `seed` when random_signs (else all +1)
//   scale = ||w_block||_2 / sqrt(h) for the h-block holding the group (reference HIGGS: every group of a
//           block shares the block's scale), or, with group_norms, the RMS of r over the group itself
//   x = r / scale                 entries ~ N(0, 1) for Gaussian-like weights
//   code = nearest grid point to each p-vector of x (argmax_c 2<x, g_c> - ||g_c||^2)
//   Q = R^T (scale * grid[code])  the dequantized weight in the original basis.
// Inference may instead keep the rotated form: y = (R x) . (scale * grid[code])^T.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/bit_allocation.hpp"
#include "quant/gaussian_grids.hpp"
#include "quant/grid.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

struct HiggsOptions {
  int p = 2;                    // grid dimension (1 or 2)
  int n = 256;                  // grid points (<= 256: codes are uint8); bits per weight = log2(n) / p
  int64_t hadamard_size = 512;  // h: power of two, 64..4096 in practice
  int64_t group_size = -1;      // columns per stored scale; -1 = h. Must divide h and be a multiple of p
  bool group_norms = false;     // false: scale from the h-block norm (reference); true: per-group RMS
  bool random_signs = false;
  uint64_t seed = 0;            // signs = hadamard_signs(cols_padded, seed) when random_signs
  int threads = 0;              // 0 = hardware concurrency
};

struct HiggsLayer {
  int64_t rows = 0;
  int64_t cols = 0;         // original in_features
  int64_t cols_padded = 0;  // multiple of hadamard_size
  HiggsOptions options;     // group_size resolved (never -1)
  int64_t n_groups = 0;     // cols_padded / group_size
  // Codes [rows, cols_padded / p], row-major: one code per p-vector of the rotated row.
  std::vector<uint8_t> codes;
  // Scales at [g * rows + r] (the QuantizedLayer convention): rotated value = scale * grid point.
  std::vector<float> scales;
  // Dequantized weights [rows, cols] in the original (un-rotated) basis.
  std::vector<float> dequant;
  double rel_mse = 0.0;  // ||W - Q||_F^2 / ||W||_F^2 (0 when W = 0)
};

// Quantize w (row-major [rows, cols], leading dimension ld >= cols). Validates the options and that w is
// finite (SQ_ERR_INVALID_ARGUMENT / SQ_ERR_NUMERIC / SQ_ERR_UNSUPPORTED with the option named).
HiggsLayer higgs_quantize(const float* w, int64_t rows, int64_t cols, int64_t ld, const HiggsOptions& opt);

// Rebuild the original-basis weights [rows, cols] from codes, scales and options alone.
std::vector<float> higgs_dequantize(const HiggsLayer& q);

// Boundaries between consecutive ascending levels of a p = 1 grid (n - 1 of them): the code of x is the
// number of boundaries below it (scalar_grid_code, kernels/portable/gaussian_scalar.hpp).
std::vector<float> midpoints(const GaussianGrid& grid);

// Nearest grid point of each of `count` p-vectors in x (x[i * p + k]); ties go to the lower index.
// p = 1: binary search over the midpoints; p = 2: exhaustive over the n points.
void gaussian_grid_nearest(const GaussianGrid& grid, const float* x, int64_t count, uint8_t* codes);

// Options for dynamic bit allocation, one per (p, n) grid: bits_per_weight = log2(n) / p + scale_bits / group_size
// (the codes plus one stored scale per group), mse = the grid's MSE per dimension on N(0, 1), which is the
// relative MSE HIGGS gives on a layer (the linearity theorem's t_l).
std::vector<BitOption> higgs_bit_options(const std::vector<GaussianGrid>& grids, int64_t group_size,
                                         int scale_bits = 16);

// The HIGGS scalar grid (p = 1) as a Grid for the GPTQ sweep (HIGGS + GPTQ). The sweep must run on the
// rotated layer (rows rotated by R, Hessian H' = R H R^T: hadamard_rotate_hessian); this grid does not
// rotate. fit() sets one scale per row = RMS of the row over the group's columns (rounded as `storage`
// keeps it, so the values fed back into the sweep are exactly what a reader decodes); quantize_column rounds
// w / scale to the grid. store() appends the scales (GridKind::Gaussian: value = scale_r * g_code, one scale
// per row and group at [g * rows + r]); bits() = log2(n).
// p = 2 does not fit this interface: its codes cover pairs of adjacent columns, while the GPTQ sweep rounds
// one column at a time and feeds the error of column j into column j + 1 before rounding it. A p = 2
// variant needs a sweep that rounds column pairs (2-column OBQ step); it is not provided here.
class HiggsScalarGrid : public Grid {
 public:
  // n in the shipped p = 1 grids, <= 256.
  explicit HiggsScalarGrid(int n, ScaleStorage storage = ScaleStorage::F32);
  GridKind kind() const override { return GridKind::Gaussian; }
  int bits() const override;
  std::unique_ptr<GroupGrid> fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                 const float* importance) const override;

 private:
  const GaussianGrid* grid_;
  ScaleStorage storage_;
};

}  // namespace sq
