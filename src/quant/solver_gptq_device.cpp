#include "quant/solver_gptq_device.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "backend/device_api.hpp"
#include "backend/offload/device_memory.hpp"
#include "portable/loss_aware_affine.hpp"
#include "portable/team_kmeans_fit.hpp"
#include "quant/grid_gaussian.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr size_t kF = sizeof(float);

int64_t param_floats_per_row(const DeviceSweepGrid& grid) {
  if (grid.lut()) return int64_t(1) << grid.bits;  // the levels
  return grid.fit == DeviceGroupFit::GaussianRms ? 1 : 2;  // a scale, or a scale and a zero point
}

// Whether the device fits groups of this width during the sweep as the CPU grid does.
bool device_fits_groups(const DeviceSweepGrid& grid, int64_t width) {
  switch (grid.fit) {
    case DeviceGroupFit::MinMax:
    case DeviceGroupFit::GaussianRms: return true;
    // The CPU's sorted regime at any width; its direct-sum regime up to the warp kernel's row limit.
    case DeviceGroupFit::LossAware:
      return width >= 1 && width <= (int64_t(1) << 30) &&
             (loss_aware::sorted_regime(width, grid.bits) || width <= DeviceApi::kMaxLossAwareWidth);
    // Any width: one thread per row where the CPU k-means is exact, a thread block per row above.
    case DeviceGroupFit::LutKMeans: return width >= 1 && width <= (int64_t(1) << 30);
  }
  return false;
}

// Whether every group the schedule fits during the sweep can be fitted on the device: the full groups and a
// narrower last one (which may fall in the loss-aware search's other regime).
bool device_fits_schedule(const DeviceSweepGrid& grid, const GroupSchedule& schedule, int64_t cols) {
  if (!schedule.fit_during_sweep || schedule.n_groups < 1) return true;
  return device_fits_groups(grid, schedule.group_size) &&
         device_fits_groups(grid, schedule.width(schedule.n_groups - 1, cols));
}

// Scratch per row of a LUT fit of groups `width` wide. The last group may be narrower than the others, and
// fitted the other way (exact, one thread per row).
int64_t lut_fit_scratch_per_row(int64_t width, int levels) {
  return std::max(lut_kmeans_row_bytes(int(width), levels),
                  exact_kmeans_scratch_bytes(int(std::min<int64_t>(width, kMaxExactKMeansWidth)), levels));
}

// Scratch per row of the group fits during the sweep: LUT fits, and loss-aware fits in the sorted regime
// (a narrower last group needs less, or none in the direct regime).
int64_t fit_scratch_per_row(const DeviceSweepGrid& grid, const GroupSchedule& schedule) {
  if (!schedule.fit_during_sweep) return 0;
  if (grid.lut()) return lut_fit_scratch_per_row(schedule.group_size, 1 << grid.bits);
  if (grid.fit == DeviceGroupFit::LossAware && loss_aware::sorted_regime(schedule.group_size, grid.bits))
    return loss_aware::sorted_fit_bytes(schedule.group_size, grid.loss_aware.shrink_steps, grid.sym);
  return 0;
}

// Everything but the group fits' scratch.
uint64_t resident_bytes(const DeviceSweepGrid& grid, int64_t rows, int64_t cols, int64_t n_groups,
                        int64_t block_size) {
  const auto r = [](uint64_t b) { return DeviceMemory::rounded(b); };
  return r(uint64_t(rows) * cols * kF) + r(uint64_t(cols) * cols * kF) + r(uint64_t(rows) * cols) +
         r(uint64_t(rows) * block_size * kF) + r(uint64_t(n_groups) * rows * param_floats_per_row(grid) * kF) +
         2 * r(uint64_t(cols) * 4) + 2 * r(256 * kF);
}

// Rows per group fit launch (LUT or sorted loss-aware), once the resident buffers are allocated: all of them
// when half of what is left under the budget holds their scratch (the rest stays for the trailing GEMM's
// library workspace), fewer otherwise (gptq_sweep_fits_device left room for at least one).
int64_t fit_workspace_rows(uint64_t available, int64_t per_row, int64_t rows) {
  if (per_row == 0) return 0;
  return std::max<int64_t>(1, std::min<int64_t>(rows, int64_t(available / 2 / uint64_t(per_row))));
}

// A NaN scale marks a group fit that met a non-finite weight (the CPU grid throws there); inf, or any scale
// over 65504 with fp16 storage, one the checkpoint cannot hold.
void check_scales(const std::vector<float>& scales, int64_t rows, bool f16) {
  for (size_t i = 0; i < scales.size(); ++i) {
    const int64_t row = int64_t(i) % rows, group = int64_t(i) / rows;
    if (std::isnan(scales[i]))
      throw_error(SQ_ERR_NUMERIC, "grid fit of row ", row, ", group ", group,
                  ": the group holds a non-finite weight (expected finite values)");
    if (f16 && !(scales[i] <= 65504.0f))
      throw_error(SQ_ERR_NUMERIC, "grid scale of row ", row, ", group ", group,
                  " exceeds the fp16 maximum 65504 (weights too large for an fp16 checkpoint); use scale_dtype "
                  "\"fp32\"");
  }
}

void check_lut(const std::vector<float>& lut, int64_t rows, int levels) {
  for (size_t i = 0; i < lut.size(); ++i)
    if (!std::isfinite(lut[i])) {
      const int64_t row = int64_t(i) / levels;
      throw_error(SQ_ERR_NUMERIC, "LUT k-means fit of row ", row % rows, ", group ", row / rows,
                  ": the row holds a non-finite weight (expected finite values)");
    }
}

}  // namespace

bool device_sweep_grid(const MethodPlan& plan, const QuantizeOptions& opts, const float* importance,
                       DeviceSweepGrid* grid) {
  if (plan.solver != SolverKind::Gptq) return false;
  DeviceSweepGrid g;
  switch (plan.grid) {
    case GridChoice::Auto:
    case GridChoice::MinMaxAffine: g.fit = DeviceGroupFit::MinMax; break;
    case GridChoice::LossAwareAffine: g.fit = DeviceGroupFit::LossAware; break;
    case GridChoice::LutKMeans: g.fit = DeviceGroupFit::LutKMeans; break;
    case GridChoice::Gaussian:
      if (plan.grid_dim != 1) return false;  // pairs of columns do not fit a column-at-a-time sweep
      g.fit = DeviceGroupFit::GaussianRms;
      break;
    case GridChoice::ColumnKMeans: return false;
  }
  g.bits = opts.bits;
  g.sym = opts.sym;
  g.storage = opts.scale_storage;
  g.importance = importance;
  *grid = g;
  return true;
}

bool gptq_sweep_fits_device(Backend& be, const DeviceSweepGrid& grid, int64_t rows, int64_t cols,
                            const GroupSchedule& schedule, int64_t block_size) {
  DeviceHandle* dev = be.device();
  if (dev == nullptr || block_size > DeviceApi::kMaxSweepBlock) return false;
  if (!device_fits_schedule(grid, schedule, cols)) return false;
  const uint64_t resident = resident_bytes(grid, rows, cols, schedule.n_groups, block_size);
  const int64_t per_row = fit_scratch_per_row(grid, schedule);
  return resident + DeviceMemory::rounded(uint64_t(per_row)) <= dev->memory.available();
}

void gptq_sweep_on_device(DeviceHandle& dev, float* w, int64_t rows, int64_t cols, const float* u,
                          const GroupSchedule& schedule, const DeviceSweepGrid& grid, QuantizedLayer& params,
                          uint8_t* codes, int64_t block_size) {
  if (!device_fits_schedule(grid, schedule, cols))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device GPTQ sweep: groups of ", schedule.group_size,
                " columns cannot be fitted on the device with this grid");
  if (block_size < 1 || block_size > DeviceApi::kMaxSweepBlock)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device GPTQ sweep: block_size must be in [1, ", DeviceApi::kMaxSweepBlock,
                "], got ", block_size);
  std::lock_guard<std::mutex> lock(dev.mutex);
  DeviceApi& d = dev.api;
  DeviceMemory& mem = dev.memory;
  const int64_t n_groups = schedule.n_groups, levels = param_floats_per_row(grid);
  const size_t row_bytes = size_t(cols) * kF, grid_bytes = size_t(n_groups * rows) * kF;
  DeviceBuffer dw(mem, size_t(rows) * row_bytes, "the layer's weights (GPTQ sweep)");
  DeviceBuffer du(mem, size_t(cols) * row_bytes, "the inverse-Hessian factor U (GPTQ sweep)");
  DeviceBuffer dcodes(mem, size_t(rows * cols), "the layer's codes (GPTQ sweep)");
  DeviceBuffer derr(mem, size_t(rows * block_size) * kF, "the GPTQ block error");
  // Affine: scales then zeros, each [n_groups, rows]; LUT: [n_groups, rows, levels].
  DeviceBuffer dparams(mem, grid_bytes * size_t(levels), "the grid parameters (GPTQ sweep)");
  DeviceBuffer dgroup(mem, size_t(cols) * sizeof(int32_t), "the column-to-group map");
  const bool weighted_fit = grid.fit != DeviceGroupFit::MinMax && grid.importance != nullptr;
  DeviceBuffer dimp(mem, weighted_fit ? row_bytes : 0, "the column importance");
  const int64_t per_row = fit_scratch_per_row(grid, schedule);
  const int64_t ws_rows = fit_workspace_rows(mem.available(), per_row, rows);
  DeviceBuffer dscratch(mem, size_t(ws_rows * per_row), "the group fits' scratch");
  // The Gaussian grid's levels and their midpoints, computed on the host as HiggsScalarGrid does.
  const bool gaussian = grid.fit == DeviceGroupFit::GaussianRms;
  const int n_points = 1 << grid.bits;
  DeviceBuffer dpoints(mem, gaussian ? size_t(n_points) * kF : 0, "the Gaussian grid levels");
  DeviceBuffer dmid(mem, gaussian ? size_t(n_points - 1) * kF : 0, "the Gaussian grid midpoints");
  if (gaussian) {
    const GaussianGrid& levels_1d = gaussian_grid(1, n_points);
    const std::vector<float> mid = midpoints(levels_1d);
    d.upload(dpoints.get(), size_t(n_points) * kF, levels_1d.points, size_t(n_points) * kF, size_t(n_points) * kF, 1);
    d.upload(dmid.get(), mid.size() * kF, mid.data(), mid.size() * kF, mid.size() * kF, 1);
  }
  if (weighted_fit) d.upload(dimp.get(), row_bytes, grid.importance, row_bytes, row_bytes, 1);
  d.upload(dw.get(), row_bytes, w, row_bytes, row_bytes, size_t(rows));
  d.upload(du.get(), row_bytes, u, row_bytes, row_bytes, size_t(cols));
  d.upload(dgroup.get(), size_t(cols) * sizeof(int32_t), schedule.group_of.data(), size_t(cols) * sizeof(int32_t),
           size_t(cols) * sizeof(int32_t), 1);
  float* dscales = dparams.f32();
  float* dzeros = dparams.f32() + n_groups * rows;
  const bool fit_here = schedule.fit_during_sweep;
  if (!fit_here && grid.lut()) {
    d.upload(dparams.get(), grid_bytes * size_t(levels), params.lut.data(), grid_bytes * size_t(levels),
             grid_bytes * size_t(levels), 1);
  } else if (!fit_here) {
    d.upload(dscales, grid_bytes, params.scales.data(), grid_bytes, grid_bytes, 1);
    if (!gaussian) d.upload(dzeros, grid_bytes, params.zeros.data(), grid_bytes, grid_bytes, 1);
  }
  const float* dimportance = weighted_fit ? dimp.f32() : nullptr;
  float* dwf = dw.f32();
  const int32_t* group_of = static_cast<const int32_t*>(dgroup.get());
  uint8_t* dcode = static_cast<uint8_t*>(dcodes.get());
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const int64_t i2 = std::min(cols, i1 + block_size);
    if (fit_here) {  // the groups that start in this block, on the weights as updated so far (gptq_sweep)
      for (int64_t g = (i1 + schedule.group_size - 1) / schedule.group_size;
           g < n_groups && schedule.first_column(g) < i2; ++g) {
        const int64_t c0 = schedule.first_column(g), width = schedule.width(g, cols);
        const bool f16 = grid.storage == ScaleStorage::F16;
        const float* imp = dimportance ? dimportance + c0 : nullptr;
        if (grid.fit == DeviceGroupFit::LutKMeans)
          d.lut_kmeans_fit(dwf + c0, cols, rows, width, imp, int(levels), dparams.f32() + g * rows * levels,
                           dscratch.get(), ws_rows);
        else if (gaussian)
          d.rms_scale_fit(dwf + c0, cols, rows, width, f16, dscales + g * rows);
        else if (grid.fit == DeviceGroupFit::LossAware)
          d.loss_aware_affine_fit(dwf + c0, cols, rows, width, imp, grid.bits, grid.sym,
                                  grid.loss_aware.shrink_steps, grid.loss_aware.min_factor, f16,
                                  dscales + g * rows, dzeros + g * rows, dscratch.get(), ws_rows);
        else
          d.minmax_affine_fit(dwf + c0, cols, rows, width, grid.bits, grid.sym, f16, dscales + g * rows,
                              dzeros + g * rows);
      }
    }
    if (grid.lut())
      d.gptq_lut_block(dwf, rows, cols, du.f32(), i1, i2, dparams.f32(), group_of, int(levels), dcode, derr.f32(),
                       block_size);
    else if (gaussian)
      d.gptq_gaussian_block(dwf, rows, cols, du.f32(), i1, i2, dscales, group_of, dpoints.f32(), dmid.f32(), n_points,
                            dcode, derr.f32(), block_size);
    else
      d.gptq_affine_block(dwf, rows, cols, du.f32(), i1, i2, dscales, dzeros, group_of, grid.bits, dcode, derr.f32(),
                          block_size);
    if (i2 < cols)  // lazy batch update: W[:, i2:] -= Err U[i1:i2, i2:]
      d.gemm(false, false, rows, cols - i2, i2 - i1, -1.0f, derr.f32(), block_size, du.f32() + i1 * cols + i2, cols,
             1.0f, dwf + i2, cols);
  }
  d.download(w, row_bytes, dw.get(), row_bytes, row_bytes, size_t(rows));
  d.download(codes, size_t(cols), dcodes.get(), size_t(cols), size_t(cols), size_t(rows));
  if (!fit_here) return;
  if (grid.lut()) {
    d.download(params.lut.data(), grid_bytes * size_t(levels), dparams.get(), grid_bytes * size_t(levels),
               grid_bytes * size_t(levels), 1);
    check_lut(params.lut, rows, int(levels));
    return;
  }
  d.download(params.scales.data(), grid_bytes, dscales, grid_bytes, grid_bytes, 1);
  if (!gaussian) d.download(params.zeros.data(), grid_bytes, dzeros, grid_bytes, grid_bytes, 1);
  check_scales(params.scales, rows, grid.storage == ScaleStorage::F16);
}

bool lut_fits_before_sweep_on_device(Backend& be, int bits, int64_t rows, int64_t cols, int64_t group_size,
                                     bool weighted) {
  DeviceHandle* dev = be.device();
  if (dev == nullptr || rows < 1 || cols < 1) return false;
  const int64_t width = group_size < 0 ? cols : std::min(group_size, cols);
  const int64_t n_groups = (cols + width - 1) / width, levels = int64_t(1) << bits;
  const auto r = [](uint64_t b) { return DeviceMemory::rounded(b); };
  const uint64_t scratch = uint64_t(lut_fit_scratch_per_row(width, int(levels)));
  const uint64_t bytes = r(uint64_t(rows) * cols * kF) + (weighted ? r(uint64_t(cols) * kF) : 0) +
                         r(uint64_t(n_groups) * rows * levels * kF) + r(scratch);
  return bytes <= dev->memory.available();
}

void fit_lut_groups_on_device(DeviceHandle& dev, const float* w, int64_t rows, int64_t cols, int64_t group_size,
                              const float* importance, int bits, std::vector<float>& lut) {
  const int64_t width = group_size < 0 ? cols : std::min(group_size, cols);
  const int64_t n_groups = (cols + width - 1) / width;
  const int levels = 1 << bits;
  const size_t row_bytes = size_t(cols) * kF, lut_bytes = size_t(n_groups * rows * levels) * kF;
  if (lut.size() * kF != lut_bytes)
    throw_error(SQ_ERR_INTERNAL, "device LUT fit: ", lut.size(), " levels given for ", n_groups, " groups of ", rows,
                " rows at ", bits, " bits");
  std::lock_guard<std::mutex> lock(dev.mutex);
  DeviceApi& d = dev.api;
  DeviceMemory& mem = dev.memory;
  DeviceBuffer dw(mem, size_t(rows) * row_bytes, "the layer's weights (LUT fit)");
  DeviceBuffer dimp(mem, importance ? row_bytes : 0, "the column importance");
  DeviceBuffer dlut(mem, lut_bytes, "the LUT grids");
  const int64_t per_row = lut_fit_scratch_per_row(width, levels);
  const int64_t ws_rows = fit_workspace_rows(mem.available(), per_row, rows);
  DeviceBuffer dscratch(mem, size_t(ws_rows * per_row), "the LUT k-means scratch");
  d.upload(dw.get(), row_bytes, w, row_bytes, row_bytes, size_t(rows));
  if (importance) d.upload(dimp.get(), row_bytes, importance, row_bytes, row_bytes, 1);
  for (int64_t g = 0; g < n_groups; ++g) {
    const int64_t c0 = g * width;
    d.lut_kmeans_fit(dw.f32() + c0, cols, rows, std::min(width, cols - c0), importance ? dimp.f32() + c0 : nullptr,
                     levels, dlut.f32() + g * rows * levels, dscratch.get(), ws_rows);
  }
  d.download(lut.data(), lut_bytes, dlut.get(), lut_bytes, lut_bytes, 1);
  check_lut(lut, rows, levels);
}

}  // namespace sq
