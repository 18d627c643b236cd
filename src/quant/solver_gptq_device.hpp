// The GPTQ sweep resident on a device backend's device, for the per-row grids the device can fit and round:
// affine (min-max and LeanQuant loss-aware), LeanQuant's lookup tables and HIGGS's scalar Gaussian grid. The working weights and U are
// uploaded once; the group fits, the per-block column sweep and the trailing update run there; the
// dequantized weights, codes and grid parameters come back once. Same results as gptq_sweep (solver_gptq.hpp)
// with the same grids: with the host-pointer backend alone, every 128-column block would move the whole
// trailing part of W across the bus and back.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "quant/grid_loss_aware_affine.hpp"
#include "quant/group_schedule.hpp"
#include "quant/quantize_options.hpp"
#include "quant/quantized_layer.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

// The grid, and how the device fits its groups.
enum class DeviceGroupFit {
  MinMax,     // affine, grid_minmax_affine.hpp
  LossAware,  // affine, grid_loss_aware_affine.hpp
  LutKMeans,  // lookup table, grid_lut_kmeans.hpp
  GaussianRms,  // HIGGS scalar Gaussian grid, per-row RMS scale (HiggsScalarGrid, grid_gaussian.hpp)
};

struct DeviceSweepGrid {
  DeviceGroupFit fit = DeviceGroupFit::MinMax;
  int bits = 4;
  bool sym = false;
  ScaleStorage storage = ScaleStorage::F16;
  LossAwareAffineOptions loss_aware;  // its shrink_steps and min_factor, for LossAware
  const float* importance = nullptr;  // LossAware and LutKMeans: per working column (host, cols values); null = ones
  bool lut() const { return fit == DeviceGroupFit::LutKMeans; }
};

// The device form of a GPTQ layer's grid, or false for grids only the host sweep has (CLAQ's column k-means).
bool device_sweep_grid(const MethodPlan& plan, const QuantizeOptions& opts, const float* importance,
                       DeviceSweepGrid* grid);

// Whether gptq_sweep_on_device can run this layer on `be`: a device, a block size the sweep kernel takes,
// groups fitted during the sweep that the device fits as the CPU does, and room under the device budget
// for W, U, the codes, the grid parameters and the fit's scratch.
bool gptq_sweep_fits_device(Backend& be, const DeviceSweepGrid& grid, int64_t rows, int64_t cols,
                            const GroupSchedule& schedule, int64_t block_size);

// w: rows x cols working order (overwritten with the dequantized values); u: cols x cols upper factor;
// params: the layer's scales/zeros (affine, [g * rows + r]), scales (Gaussian) or lut (LUT,
// [(g * rows + r) * 2^bits + c]),
// sized for schedule.n_groups groups: outputs for the groups fitted during the sweep, inputs otherwise;
// codes: rows x cols. Throws SQ_ERR_NUMERIC when a scale exceeds the fp16 range (F16 storage) or a LUT
// row holds a non-finite weight.
void gptq_sweep_on_device(DeviceHandle& dev, float* w, int64_t rows, int64_t cols, const float* u,
                          const GroupSchedule& schedule, const DeviceSweepGrid& grid, QuantizedLayer& params,
                          uint8_t* codes, int64_t block_size);

// The grids of the groups fitted before the sweep (per channel, group_size -1: one group of all columns; static
// groups of group_size), fitted on the device by the kernels the sweep fits its groups with: whether `be` has
// a device that fits groups of that width as the CPU does, with room for the rows x cols weights, the
// importance, the parameters and one row's fit scratch; then the fit itself, which gives the host fit's
// parameters (ChunkedGrids over the same grid, weights and importance) bit for bit, into params' scales/zeros
// (affine), scales (Gaussian) or lut (LUT), sized as ChunkedGrids sizes them. w: rows x cols; importance: cols
// host values, nullable (unweighted; a min-max grid ignores it). Throws SQ_ERR_NUMERIC when a row holds a
// non-finite weight or, with fp16 storage, a scale exceeds its range.
bool fits_before_sweep_on_device(Backend& be, const DeviceSweepGrid& grid, int64_t rows, int64_t cols,
                                 int64_t group_size, const float* importance);
void fit_groups_before_sweep_on_device(DeviceHandle& dev, const float* w, int64_t rows, int64_t cols,
                                       int64_t group_size, const DeviceSweepGrid& grid, const float* importance,
                                       QuantizedLayer& params);

}  // namespace sq
