#include "quant/solver_gptq_device.hpp"

#include <algorithm>
#include <mutex>

#include "backend/device_api.hpp"
#include "backend/offload/device_memory.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr size_t kF = sizeof(float);

uint64_t device_bytes(int64_t rows, int64_t cols, int64_t n_groups, int64_t block_size) {
  const auto r = [](uint64_t b) { return DeviceMemory::rounded(b); };
  return r(uint64_t(rows) * cols * kF) + r(uint64_t(cols) * cols * kF) + r(uint64_t(rows) * cols) +
         r(uint64_t(rows) * block_size * kF) + 2 * r(uint64_t(n_groups) * rows * kF) + 2 * r(uint64_t(cols) * 4);
}

}  // namespace

bool gptq_affine_sweep_fits_device(Backend& be, int64_t rows, int64_t cols, int64_t n_groups, int64_t block_size) {
  DeviceHandle* dev = be.device();
  return dev != nullptr && block_size <= DeviceApi::kMaxSweepBlock &&
         device_bytes(rows, cols, n_groups, block_size) <= dev->memory.available();
}

bool device_fits_groups(DeviceGroupFit fit, int64_t group_width, int bits) {
  if (fit == DeviceGroupFit::MinMax) return true;
  return group_width <= DeviceApi::kMaxLossAwareWidth && group_width < (int64_t(32) << bits);
}

void gptq_sweep_affine_on_device(DeviceHandle& dev, float* w, int64_t rows, int64_t cols, const float* u,
                                 const GroupSchedule& schedule, const AffineSweepGrid& grid, float* scales,
                                 float* zeros, uint8_t* codes, int64_t block_size) {
  if (schedule.fit_during_sweep && !device_fits_groups(grid.fit, schedule.group_size, grid.bits))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device GPTQ sweep: groups of ", schedule.group_size,
                " columns cannot be fitted on the device with this grid");
  if (block_size < 1 || block_size > DeviceApi::kMaxSweepBlock)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device GPTQ sweep: block_size must be in [1, ", DeviceApi::kMaxSweepBlock,
                "], got ", block_size);
  std::lock_guard<std::mutex> lock(dev.mutex);
  DeviceApi& d = dev.api;
  DeviceMemory& mem = dev.memory;
  const int64_t n_groups = schedule.n_groups;
  const size_t row_bytes = size_t(cols) * kF, grid_bytes = size_t(n_groups * rows) * kF;
  DeviceBuffer dw(mem, size_t(rows) * row_bytes, "the layer's weights (GPTQ sweep)");
  DeviceBuffer du(mem, size_t(cols) * row_bytes, "the inverse-Hessian factor U (GPTQ sweep)");
  DeviceBuffer dcodes(mem, size_t(rows * cols), "the layer's codes (GPTQ sweep)");
  DeviceBuffer derr(mem, size_t(rows * block_size) * kF, "the GPTQ block error");
  DeviceBuffer dscales(mem, grid_bytes, "the grid scales"), dzeros(mem, grid_bytes, "the grid zero points");
  DeviceBuffer dgroup(mem, size_t(cols) * sizeof(int32_t), "the column-to-group map");
  const bool loss_aware = grid.fit == DeviceGroupFit::LossAware;
  DeviceBuffer dimp(mem, loss_aware && grid.importance ? row_bytes : 0, "the column importance");
  if (loss_aware && grid.importance) d.upload(dimp.get(), row_bytes, grid.importance, row_bytes, row_bytes, 1);
  d.upload(dw.get(), row_bytes, w, row_bytes, row_bytes, size_t(rows));
  d.upload(du.get(), row_bytes, u, row_bytes, row_bytes, size_t(cols));
  d.upload(dgroup.get(), size_t(cols) * sizeof(int32_t), schedule.group_of.data(), size_t(cols) * sizeof(int32_t),
           size_t(cols) * sizeof(int32_t), 1);
  const bool fit_here = schedule.fit_during_sweep;
  if (!fit_here) {
    d.upload(dscales.get(), grid_bytes, scales, grid_bytes, grid_bytes, 1);
    d.upload(dzeros.get(), grid_bytes, zeros, grid_bytes, grid_bytes, 1);
  }
  float* dwf = dw.f32();
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const int64_t i2 = std::min(cols, i1 + block_size);
    if (fit_here) {  // the groups that start in this block, on the weights as updated so far (gptq_sweep)
      for (int64_t g = (i1 + schedule.group_size - 1) / schedule.group_size;
           g < n_groups && schedule.first_column(g) < i2; ++g) {
        const int64_t c0 = schedule.first_column(g), width = schedule.width(g, cols);
        const bool f16 = grid.storage == ScaleStorage::F16;
        if (loss_aware)
          d.loss_aware_affine_fit(dwf + c0, cols, rows, width, grid.importance ? dimp.f32() + c0 : nullptr, grid.bits,
                                  grid.sym, grid.loss_aware.shrink_steps, grid.loss_aware.min_factor, f16,
                                  dscales.f32() + g * rows, dzeros.f32() + g * rows);
        else
          d.minmax_affine_fit(dwf + c0, cols, rows, width, grid.bits, grid.sym, f16, dscales.f32() + g * rows,
                              dzeros.f32() + g * rows);
      }
    }
    d.gptq_affine_block(dwf, rows, cols, du.f32(), i1, i2, dscales.f32(), dzeros.f32(),
                        static_cast<const int32_t*>(dgroup.get()), grid.bits, static_cast<uint8_t*>(dcodes.get()),
                        derr.f32(), block_size);
    if (i2 < cols)  // lazy batch update: W[:, i2:] -= Err U[i1:i2, i2:]
      d.gemm(false, false, rows, cols - i2, i2 - i1, -1.0f, derr.f32(), block_size, du.f32() + i1 * cols + i2, cols,
             1.0f, dwf + i2, cols);
  }
  d.download(w, row_bytes, dw.get(), row_bytes, row_bytes, size_t(rows));
  d.download(codes, size_t(cols), dcodes.get(), size_t(cols), size_t(cols), size_t(rows));
  if (fit_here) {
    d.download(scales, grid_bytes, dscales.get(), grid_bytes, grid_bytes, 1);
    d.download(zeros, grid_bytes, dzeros.get(), grid_bytes, grid_bytes, 1);
    for (int64_t i = 0; i < n_groups * rows; ++i)
      if (!(scales[i] <= 65504.0f) && grid.storage == ScaleStorage::F16)
        throw_error(SQ_ERR_NUMERIC, "affine grid scale of row ", i % rows, ", group ", i / rows,
                    " exceeds the fp16 maximum 65504 (weights too large for an fp16 checkpoint); use scale_dtype "
                    "\"fp32\"");
  }
}

}  // namespace sq
