#include "quant/hadamard_device.hpp"

#include <mutex>

#include "backend/device_api.hpp"
#include "backend/offload/device_memory.hpp"

namespace sq {
namespace {

// The matrix and the signs, if the device can rotate them at all.
bool fits(Backend& be, int64_t rows, int64_t cols, int64_t block) {
  DeviceHandle* dev = be.device();
  if (dev == nullptr || block > DeviceApi::kMaxHadamardBlock || rows <= 0 || cols <= 0) return false;
  const uint64_t bytes = DeviceMemory::rounded(uint64_t(rows) * uint64_t(cols) * sizeof(float)) +
                         DeviceMemory::rounded(uint64_t(cols) * sizeof(float));
  return bytes <= dev->memory.available();
}

// Runs `rotate(api, device matrix, device signs)` on the uploaded matrix and downloads it.
template <typename Rotate>
void on_device(DeviceHandle& dev, float* a, int64_t rows, int64_t cols, const float* signs, const Rotate& rotate) {
  std::lock_guard<std::mutex> lock(dev.mutex);
  DeviceApi& d = dev.api;
  const size_t row_bytes = size_t(cols) * sizeof(float);
  DeviceBuffer da(dev.memory, row_bytes * size_t(rows), "the matrix to rotate (Hadamard)");
  DeviceBuffer ds(dev.memory, signs ? row_bytes : 0, "the Hadamard signs");
  d.upload(da.get(), row_bytes, a, row_bytes, row_bytes, size_t(rows));
  if (signs) d.upload(ds.get(), row_bytes, signs, row_bytes, row_bytes, 1);
  rotate(d, da.f32(), signs ? ds.f32() : nullptr);
  d.download(a, row_bytes, da.get(), row_bytes, row_bytes, size_t(rows));
}

}  // namespace

bool hadamard_rotate_rows_on_device(Backend& be, float* w, int64_t rows, int64_t cols, int64_t block,
                                    const float* signs) {
  if (!fits(be, rows, cols, block)) return false;
  on_device(*be.device(), w, rows, cols, signs, [&](DeviceApi& d, float* dw, const float* ds) {
    d.hadamard_rotate_rows(dw, rows, cols, cols, block, ds, false);
  });
  return true;
}

bool hadamard_rotate_hessian_on_device(Backend& be, float* h, int64_t n, int64_t block, const float* signs) {
  if (!fits(be, n, n, block)) return false;
  // As the host: rotating the rows gives H R^T; its transpose is R H; rotating rows again gives R H R^T.
  on_device(*be.device(), h, n, n, signs, [&](DeviceApi& d, float* dh, const float* ds) {
    d.hadamard_rotate_rows(dh, n, n, n, block, ds, false);
    d.transpose_square(dh, n);
    d.hadamard_rotate_rows(dh, n, n, n, block, ds, false);
    d.symmetrize_average(dh, n);
  });
  return true;
}

}  // namespace sq
