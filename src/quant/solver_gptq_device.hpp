// The GPTQ sweep with an affine grid, resident on a device backend's device. The working weights and U are
// uploaded once; group fits (min-max), the per-block column sweep and the trailing update run there; the
// dequantized weights, codes, scales and zeros come back once. Same results as gptq_sweep
// (solver_gptq.hpp) with the same grids: with the host-pointer backend alone, every 128-column block would
// move the whole trailing part of W across the bus and back.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "quant/grid_loss_aware_affine.hpp"
#include "quant/group_schedule.hpp"
#include "quant/scale_storage.hpp"

namespace sq {

// How the groups the schedule fits during the sweep are fitted on the device (groups fitted before the sweep
// arrive in `scales`/`zeros` whatever this says).
enum class DeviceGroupFit { MinMax, LossAware };

struct AffineSweepGrid {
  int bits = 4;
  bool sym = false;
  ScaleStorage storage = ScaleStorage::F16;
  DeviceGroupFit fit = DeviceGroupFit::MinMax;
  LossAwareAffineOptions loss_aware;  // its shrink_steps and min_factor, for DeviceGroupFit::LossAware
  const float* importance = nullptr;  // LossAware: per working column (host, cols values); null = ones
};

// Whether gptq_sweep_affine_on_device can run this layer on `be`: a device, a block size the sweep kernel
// takes, and room under the device budget for W, U, the codes and the grid parameters.
bool gptq_affine_sweep_fits_device(Backend& be, int64_t rows, int64_t cols, int64_t n_groups, int64_t block_size);
// Whether the device can fit groups of this width during the sweep the way the CPU grid does (loss-aware:
// only the CPU's direct-sum regime, width < 32 << bits, up to the kernel's row limit).
bool device_fits_groups(DeviceGroupFit fit, int64_t group_width, int bits);

// w: rows x cols working order (overwritten with the dequantized values); u: cols x cols upper factor;
// scales/zeros: n_groups x rows ([g * rows + r]), outputs for the groups fitted during the sweep and inputs
// otherwise; codes: rows x cols. Throws SQ_ERR_NUMERIC when a scale exceeds the fp16 range (F16 storage).
void gptq_sweep_affine_on_device(DeviceHandle& dev, float* w, int64_t rows, int64_t cols, const float* u,
                                 const GroupSchedule& schedule, const AffineSweepGrid& grid, float* scales,
                                 float* zeros, uint8_t* codes, int64_t block_size);

}  // namespace sq
