#include "quant/solver_claq_device.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "backend/device_api.hpp"
#include "backend/offload/device_memory.hpp"
#include "portable/team_kmeans_fit.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr size_t kF = sizeof(float);

// Where each working column's levels and reserved rows sit in the flat device arrays.
struct ColumnOffsets {
  std::vector<int64_t> level, reserved;  // cols + 1 entries each
  int max_levels = 1;
};

ColumnOffsets column_offsets(const ColumnKMeansGrid& grid) {
  ColumnOffsets o;
  const int64_t cols = grid.columns();
  o.level.assign(size_t(cols + 1), 0);
  o.reserved.assign(size_t(cols + 1), 0);
  for (int64_t i = 0; i < cols; ++i) {
    const int levels = 1 << grid.bits(i);
    o.level[size_t(i + 1)] = o.level[size_t(i)] + levels;
    o.reserved[size_t(i + 1)] = o.reserved[size_t(i)] + 2 * int64_t(grid.reserve(i));
    o.max_levels = std::max(o.max_levels, levels);
  }
  return o;
}

uint64_t resident_bytes(const ColumnOffsets& o, int64_t rows, int64_t cols, int64_t block_size) {
  const auto r = [](uint64_t b) { return DeviceMemory::rounded(b); };
  return r(uint64_t(rows) * cols * kF) + r(uint64_t(cols) * cols * kF) + r(uint64_t(rows) * cols) +
         r(uint64_t(rows) * block_size * kF) + r(uint64_t(o.level.back()) * kF) +
         2 * r(uint64_t(o.reserved.back()) * 4) + r(uint64_t(team_kmeans_bytes(int(rows), o.max_levels)));
}

}  // namespace

bool claq_sweep_fits_device(Backend& be, const ColumnKMeansGrid& grid, int64_t rows, int64_t cols,
                            int64_t block_size) {
  DeviceHandle* dev = be.device();
  if (dev == nullptr || block_size < 1 || block_size > DeviceApi::kMaxSweepBlock || rows > (int64_t(1) << 30) ||
      grid.columns() != cols)
    return false;
  return resident_bytes(column_offsets(grid), rows, cols, block_size) <= dev->memory.available();
}

void claq_sweep_on_device(DeviceHandle& dev, float* w, int64_t rows, int64_t cols, const float* u,
                          ColumnKMeansGrid& grid, uint8_t* codes, int64_t block_size) {
  if (block_size < 1 || block_size > DeviceApi::kMaxSweepBlock)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "device CLAQ sweep: block_size must be in [1, ", DeviceApi::kMaxSweepBlock,
                "], got ", block_size);
  if (grid.columns() != cols)
    throw_error(SQ_ERR_INTERNAL, "device CLAQ sweep: the grid has ", grid.columns(), " columns, the layer ", cols);
  const ColumnOffsets o = column_offsets(grid);
  std::lock_guard<std::mutex> lock(dev.mutex);
  DeviceApi& d = dev.api;
  DeviceMemory& mem = dev.memory;
  const size_t row_bytes = size_t(cols) * kF;
  DeviceBuffer dw(mem, size_t(rows) * row_bytes, "the layer's weights (CLAQ sweep)");
  DeviceBuffer du(mem, size_t(cols) * row_bytes, "the inverse-Hessian factor U (CLAQ sweep)");
  DeviceBuffer dcodes(mem, size_t(rows * cols), "the layer's codes (CLAQ sweep)");
  DeviceBuffer derr(mem, size_t(rows * block_size) * kF, "the GPTQ block error (CLAQ sweep)");
  DeviceBuffer dlevels(mem, size_t(o.level.back()) * kF, "the CLAQ column levels");
  DeviceBuffer dreserved(mem, size_t(o.reserved.back()) * 4, "the CLAQ reserved rows");
  DeviceBuffer dresidual(mem, size_t(o.reserved.back()) * kF, "the CLAQ reserved residuals");
  DeviceBuffer dscratch(mem, size_t(team_kmeans_bytes(int(rows), o.max_levels)), "the CLAQ column fit's scratch");
  d.upload(dw.get(), row_bytes, w, row_bytes, row_bytes, size_t(rows));
  d.upload(du.get(), row_bytes, u, row_bytes, row_bytes, size_t(cols));
  float* dwf = dw.f32();
  float* dlev = dlevels.f32();
  int32_t* dres = static_cast<int32_t*>(dreserved.get());
  uint8_t* dcode = static_cast<uint8_t*>(dcodes.get());
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const int64_t i2 = std::min(cols, i1 + block_size);
    // Column by column: a column's fit needs every row of it, with the errors of the columns before it pushed on.
    for (int64_t i = i1; i < i2; ++i) {
      const int levels = 1 << grid.bits(i), n_reserved = 2 * grid.reserve(i);
      float* lev = dlev + o.level[size_t(i)];
      int32_t* res = dres + o.reserved[size_t(i)];
      d.claq_column_fit(dwf, rows, cols, i, levels, grid.reserve(i), lev, res, dscratch.get());
      d.claq_round_column(dwf, rows, cols, du.f32(), i1, i, i2, lev, levels, res, n_reserved,
                          dresidual.f32() + o.reserved[size_t(i)], dcode, derr.f32(), block_size);
    }
    if (i2 < cols)  // lazy batch update: W[:, i2:] -= Err U[i1:i2, i2:]
      d.gemm(false, false, rows, cols - i2, i2 - i1, -1.0f, derr.f32(), block_size, du.f32() + i1 * cols + i2, cols,
             1.0f, dwf + i2, cols);
  }
  d.download(w, row_bytes, dw.get(), row_bytes, row_bytes, size_t(rows));
  d.download(codes, size_t(cols), dcodes.get(), size_t(cols), size_t(cols), size_t(rows));
  std::vector<float> levels(size_t(o.level.back())), residuals(size_t(o.reserved.back()));
  std::vector<int32_t> reserved(size_t(o.reserved.back()));
  const auto fetch = [&](void* dst, const void* src, size_t bytes) {
    if (bytes > 0) d.download(dst, bytes, src, bytes, bytes, 1);
  };
  fetch(levels.data(), dlevels.get(), levels.size() * kF);
  fetch(reserved.data(), dreserved.get(), reserved.size() * 4);
  fetch(residuals.data(), dresidual.get(), residuals.size() * kF);
  for (int64_t i = 0; i < cols; ++i) {
    const float* lev = levels.data() + o.level[size_t(i)];
    if (!std::isfinite(lev[0]))  // the fit's signal: the column held a non-finite weight when it was fitted
      throw_error(SQ_ERR_NUMERIC, "CLAQ column k-means fit of working column ", i,
                  ": the column holds a non-finite weight (expected finite values)");
    grid.set_column(i, lev, reserved.data() + o.reserved[size_t(i)], residuals.data() + o.reserved[size_t(i)]);
  }
}

}  // namespace sq
