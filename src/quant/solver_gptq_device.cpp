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
    // Any width: a warp per row for short direct-sum rows, a thread block per row otherwise (loss-aware); one
    // thread per row where the CPU k-means is exact, a thread block per row above (LUT).
    case DeviceGroupFit::LossAware:
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

// Scratch per row of the fits of groups `width` wide: LUT fits, and loss-aware fits by the team program (a
// narrower last group needs less, or none on the warp kernel).
int64_t fit_scratch_per_row(const DeviceSweepGrid& grid, int64_t width) {
  if (grid.lut()) return lut_fit_scratch_per_row(width, 1 << grid.bits);
  if (grid.fit == DeviceGroupFit::LossAware && loss_aware::fitted_by_team(width, grid.bits))
    return loss_aware::team_fit_bytes(width, grid.bits, grid.loss_aware.shrink_steps, grid.sym);
  return 0;
}

// ... of the groups fitted during the sweep.
int64_t fit_scratch_per_row(const DeviceSweepGrid& grid, const GroupSchedule& schedule) {
  return schedule.fit_during_sweep ? fit_scratch_per_row(grid, schedule.group_size) : 0;
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

// A layer's grid parameters in device memory, laid out as in QuantizedLayer: affine, scales then zeros, each
// [n_groups, rows]; Gaussian, scales [n_groups, rows]; LUT, levels [n_groups, rows, 2^bits].
struct DeviceGridParams {
  DeviceGridParams(DeviceMemory& mem, const DeviceSweepGrid& grid, int64_t rows, int64_t n_groups)
      : rows(rows), n_groups(n_groups), per_row(param_floats_per_row(grid)),
        buffer(mem, size_t(n_groups * rows * per_row) * kF, "the grid parameters") {}
  float* scales() const { return buffer.f32(); }  // or the levels
  float* zeros() const { return buffer.f32() + n_groups * rows; }
  size_t group_bytes() const { return size_t(n_groups * rows) * kF; }  // of the scales (or zeros)

  int64_t rows, n_groups, per_row;
  DeviceBuffer buffer;
};

// The fit of group g, columns [c0, c0 + width) of the device matrix w (leading dimension ld), as the CPU grid
// fits it. importance: the device column importance (null for ones or for a min-max grid).
void fit_group(DeviceApi& d, const DeviceSweepGrid& grid, const float* w, int64_t ld, int64_t g, int64_t c0,
               int64_t width, const float* importance, const DeviceGridParams& p, void* scratch, int64_t ws_rows) {
  const bool f16 = grid.storage == ScaleStorage::F16;
  const int64_t rows = p.rows;
  const float* imp = importance ? importance + c0 : nullptr;
  switch (grid.fit) {
    case DeviceGroupFit::LutKMeans:
      d.lut_kmeans_fit(w + c0, ld, rows, width, imp, int(p.per_row), p.scales() + g * rows * p.per_row, scratch,
                       ws_rows);
      return;
    case DeviceGroupFit::GaussianRms: d.rms_scale_fit(w + c0, ld, rows, width, f16, p.scales() + g * rows); return;
    case DeviceGroupFit::LossAware:
      d.loss_aware_affine_fit(w + c0, ld, rows, width, imp, grid.bits, grid.sym, grid.loss_aware.shrink_steps,
                              grid.loss_aware.min_factor, f16, p.scales() + g * rows, p.zeros() + g * rows, scratch,
                              ws_rows);
      return;
    case DeviceGroupFit::MinMax:
      d.minmax_affine_fit(w + c0, ld, rows, width, grid.bits, grid.sym, f16, p.scales() + g * rows,
                          p.zeros() + g * rows);
      return;
  }
}

// Host parameters to the device (groups fitted before the sweep) and back (groups fitted on the device, checked
// as the CPU grids check them).
void upload_params(DeviceApi& d, const DeviceSweepGrid& grid, const QuantizedLayer& params, const DeviceGridParams& p) {
  const size_t b = p.group_bytes();
  if (grid.lut()) {
    d.upload(p.scales(), b * size_t(p.per_row), params.lut.data(), b * size_t(p.per_row), b * size_t(p.per_row), 1);
    return;
  }
  d.upload(p.scales(), b, params.scales.data(), b, b, 1);
  if (p.per_row == 2) d.upload(p.zeros(), b, params.zeros.data(), b, b, 1);
}

void download_params(DeviceApi& d, const DeviceSweepGrid& grid, const DeviceGridParams& p, QuantizedLayer& params) {
  const size_t b = p.group_bytes();
  if (grid.lut()) {
    d.download(params.lut.data(), b * size_t(p.per_row), p.scales(), b * size_t(p.per_row), b * size_t(p.per_row), 1);
    check_lut(params.lut, p.rows, int(p.per_row));
    return;
  }
  d.download(params.scales.data(), b, p.scales(), b, b, 1);
  if (p.per_row == 2) d.download(params.zeros.data(), b, p.zeros(), b, b, 1);
  check_scales(params.scales, p.rows, grid.storage == ScaleStorage::F16);
}

void check_param_sizes(const DeviceSweepGrid& grid, const QuantizedLayer& params, int64_t rows, int64_t n_groups) {
  const size_t n = size_t(n_groups * rows);
  const bool ok = grid.lut() ? params.lut.size() == n * size_t(int64_t(1) << grid.bits)
                             : params.scales.size() == n &&
                                   (grid.fit == DeviceGroupFit::GaussianRms || params.zeros.size() == n);
  if (!ok)
    throw_error(SQ_ERR_INTERNAL, "device grid fit: the layer's parameters are not sized for ", n_groups,
                " groups of ", rows, " rows");
}

// Whether a fit reads the column importance (a min-max grid does not).
bool reads_importance(const DeviceSweepGrid& grid, const float* importance) {
  return importance != nullptr && grid.fit != DeviceGroupFit::MinMax;
}

// The groups a fit before the sweep covers: one of all columns (per channel, group_size -1) or groups of
// group_size, the last possibly narrower.
struct UpFrontGroups {
  UpFrontGroups(int64_t cols, int64_t group_size)
      : width(group_size < 0 ? cols : std::min(group_size, cols)), count((cols + width - 1) / width),
        last(cols - (count - 1) * width) {}
  bool fit_on_device(const DeviceSweepGrid& grid) const {
    return device_fits_groups(grid, width) && device_fits_groups(grid, last);
  }
  int64_t width, count, last;
};

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
  const size_t row_bytes = size_t(cols) * kF;
  DeviceBuffer dw(mem, size_t(rows) * row_bytes, "the layer's weights (GPTQ sweep)");
  DeviceBuffer du(mem, size_t(cols) * row_bytes, "the inverse-Hessian factor U (GPTQ sweep)");
  DeviceBuffer dcodes(mem, size_t(rows * cols), "the layer's codes (GPTQ sweep)");
  DeviceBuffer derr(mem, size_t(rows * block_size) * kF, "the GPTQ block error");
  const DeviceGridParams dparams(mem, grid, rows, n_groups);
  DeviceBuffer dgroup(mem, size_t(cols) * sizeof(int32_t), "the column-to-group map");
  const bool weighted_fit = reads_importance(grid, grid.importance);
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
  const bool fit_here = schedule.fit_during_sweep;
  check_param_sizes(grid, params, rows, n_groups);
  if (!fit_here) upload_params(d, grid, params, dparams);
  const float* dimportance = weighted_fit ? dimp.f32() : nullptr;
  float* dwf = dw.f32();
  const int32_t* group_of = static_cast<const int32_t*>(dgroup.get());
  uint8_t* dcode = static_cast<uint8_t*>(dcodes.get());
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const int64_t i2 = std::min(cols, i1 + block_size);
    if (fit_here)  // the groups that start in this block, on the weights as updated so far (gptq_sweep)
      for (int64_t g = (i1 + schedule.group_size - 1) / schedule.group_size;
           g < n_groups && schedule.first_column(g) < i2; ++g)
        fit_group(d, grid, dwf, cols, g, schedule.first_column(g), schedule.width(g, cols), dimportance, dparams,
                  dscratch.get(), ws_rows);
    if (grid.lut())
      d.gptq_lut_block(dwf, rows, cols, du.f32(), i1, i2, dparams.scales(), group_of, int(levels), dcode,
                       derr.f32(), block_size);
    else if (gaussian)
      d.gptq_gaussian_block(dwf, rows, cols, du.f32(), i1, i2, dparams.scales(), group_of, dpoints.f32(),
                            dmid.f32(), n_points, dcode, derr.f32(), block_size);
    else
      d.gptq_affine_block(dwf, rows, cols, du.f32(), i1, i2, dparams.scales(), dparams.zeros(), group_of, grid.bits,
                          dcode, derr.f32(), block_size);
    if (i2 < cols)  // lazy batch update: W[:, i2:] -= Err U[i1:i2, i2:]
      d.gemm(false, false, rows, cols - i2, i2 - i1, -1.0f, derr.f32(), block_size, du.f32() + i1 * cols + i2, cols,
             1.0f, dwf + i2, cols);
  }
  d.download(w, row_bytes, dw.get(), row_bytes, row_bytes, size_t(rows));
  d.download(codes, size_t(cols), dcodes.get(), size_t(cols), size_t(cols), size_t(rows));
  if (fit_here) download_params(d, grid, dparams, params);
}

bool fits_before_sweep_on_device(Backend& be, const DeviceSweepGrid& grid, int64_t rows, int64_t cols,
                                 int64_t group_size, const float* importance) {
  DeviceHandle* dev = be.device();
  if (dev == nullptr || rows < 1 || cols < 1) return false;
  const UpFrontGroups groups(cols, group_size);
  if (!groups.fit_on_device(grid)) return false;
  const auto r = [](uint64_t b) { return DeviceMemory::rounded(b); };
  const uint64_t bytes = r(uint64_t(rows) * cols * kF) +
                         (reads_importance(grid, importance) ? r(uint64_t(cols) * kF) : 0) +
                         r(uint64_t(groups.count * rows * param_floats_per_row(grid)) * kF) +
                         r(uint64_t(fit_scratch_per_row(grid, groups.width)));
  return bytes <= dev->memory.available();
}

void fit_groups_before_sweep_on_device(DeviceHandle& dev, const float* w, int64_t rows, int64_t cols,
                                       int64_t group_size, const DeviceSweepGrid& grid, const float* importance,
                                       QuantizedLayer& params) {
  const UpFrontGroups groups(cols, group_size);
  const int64_t width = groups.width, n_groups = groups.count;
  if (!groups.fit_on_device(grid))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device grid fit: groups of ", width,
                " columns cannot be fitted on the device with this grid");
  check_param_sizes(grid, params, rows, n_groups);
  const bool weighted = reads_importance(grid, importance);
  const size_t row_bytes = size_t(cols) * kF;
  std::lock_guard<std::mutex> lock(dev.mutex);
  DeviceApi& d = dev.api;
  DeviceMemory& mem = dev.memory;
  DeviceBuffer dw(mem, size_t(rows) * row_bytes, "the layer's weights (grid fit)");
  DeviceBuffer dimp(mem, weighted ? row_bytes : 0, "the column importance");
  const DeviceGridParams dparams(mem, grid, rows, n_groups);
  const int64_t per_row = fit_scratch_per_row(grid, width);
  const int64_t ws_rows = fit_workspace_rows(mem.available(), per_row, rows);
  DeviceBuffer dscratch(mem, size_t(ws_rows * per_row), "the group fits' scratch");
  d.upload(dw.get(), row_bytes, w, row_bytes, row_bytes, size_t(rows));
  if (weighted) d.upload(dimp.get(), row_bytes, importance, row_bytes, row_bytes, 1);
  for (int64_t g = 0; g < n_groups; ++g)
    fit_group(d, grid, dw.f32(), cols, g, g * width, std::min(width, cols - g * width), weighted ? dimp.f32() : nullptr,
              dparams, dscratch.get(), ws_rows);
  download_params(d, grid, dparams, params);
}

}  // namespace sq
