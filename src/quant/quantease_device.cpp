#include "quant/quantease_device.hpp"

#include <algorithm>
#include <mutex>

#include "backend/device_api.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

constexpr size_t kF = sizeof(float);

size_t matrix_bytes(int64_t rows, int64_t cols) { return size_t(rows) * size_t(cols) * kF; }

}  // namespace

bool QuantEaseOnDevice::fits(Backend& be, int64_t rows, int64_t cols, int64_t n_groups) {
  static_assert(kBlock <= DeviceApi::kMaxSweepBlock, "the sweep block must fit the kernel");
  DeviceHandle* dev = be.device();
  if (dev == nullptr || rows <= 0 || cols <= 0) return false;
  const auto r = [](uint64_t b) { return DeviceMemory::rounded(b); };
  const uint64_t need = r(matrix_bytes(cols, cols)) + 4 * r(matrix_bytes(rows, cols)) + r(matrix_bytes(rows, kBlock)) +
                        r(uint64_t(rows) * cols) + r(2 * matrix_bytes(n_groups, rows)) + r(uint64_t(cols) * 4) +
                        r(2 * matrix_bytes(cols, 1));
  return need <= dev->memory.available();
}

QuantEaseOnDevice::QuantEaseOnDevice(DeviceHandle& dev, int64_t rows, int64_t cols, const float* s,
                                     const std::vector<float>& scales, const std::vector<float>& zeros,
                                     const std::vector<int32_t>& group_of, int bits)
    : dev_(dev), rows_(rows), cols_(cols), bits_(bits),
      s_(dev.memory, matrix_bytes(cols, cols), "the damped Hessian S (QuantEase)"),
      t_(dev.memory, matrix_bytes(rows, cols), "the QuantEase target W - outliers"),
      q_(dev.memory, matrix_bytes(rows, cols), "the QuantEase solution Q"),
      g_(dev.memory, matrix_bytes(rows, cols), "the QuantEase gradient G = (T - Q) S"),
      r_(dev.memory, matrix_bytes(rows, cols), "the QuantEase residual T - Q"),
      delta_(dev.memory, matrix_bytes(rows, kBlock), "the QuantEase block changes"),
      codes_(dev.memory, size_t(rows) * size_t(cols), "the layer's codes (QuantEase)"),
      grid_(dev.memory, 2 * scales.size() * kF, "the affine grid (QuantEase)"),
      group_of_(dev.memory, size_t(cols) * sizeof(int32_t), "the column-to-group map (QuantEase)"),
      vec_(dev.memory, 2 * matrix_bytes(cols, 1), "the power-iteration vectors (QuantEase)") {
  if (scales.size() != zeros.size() || scales.size() % size_t(rows) != 0 || group_of.size() != size_t(cols))
    throw_error(SQ_ERR_INTERNAL, "QuantEase on the device: ", scales.size(), " scales, ", zeros.size(), " zeros and ",
                group_of.size(), " group indices for a ", rows, " x ", cols, " layer");
  std::lock_guard<std::mutex> lock(dev_.mutex);
  DeviceApi& d = dev_.api;
  d.upload(s_.get(), size_t(cols) * kF, s, size_t(cols) * kF, size_t(cols) * kF, size_t(cols));
  const size_t grid_bytes = scales.size() * kF;
  d.upload(grid_.get(), grid_bytes, scales.data(), grid_bytes, grid_bytes, 1);
  d.upload(static_cast<char*>(grid_.get()) + grid_bytes, grid_bytes, zeros.data(), grid_bytes, grid_bytes, 1);
  const size_t map_bytes = size_t(cols) * sizeof(int32_t);
  d.upload(group_of_.get(), map_bytes, group_of.data(), map_bytes, map_bytes, 1);
}

void QuantEaseOnDevice::upload_matrix(void* dst, const float* src) const {
  std::lock_guard<std::mutex> lock(dev_.mutex);
  const size_t row = size_t(cols_) * kF;
  dev_.api.upload(dst, row, src, row, row, size_t(rows_));
}

void QuantEaseOnDevice::download_matrix(float* dst, const void* src) const {
  std::lock_guard<std::mutex> lock(dev_.mutex);
  const size_t row = size_t(cols_) * kF;
  dev_.api.download(dst, row, src, row, row, size_t(rows_));
}

void QuantEaseOnDevice::upload_target(const float* t) { upload_matrix(t_.get(), t); }
void QuantEaseOnDevice::upload_q(const float* q) { upload_matrix(q_.get(), q); }
void QuantEaseOnDevice::upload_g(const float* g) { upload_matrix(g_.get(), g); }
void QuantEaseOnDevice::download_q(float* q) const { download_matrix(q, q_.get()); }
void QuantEaseOnDevice::download_g(float* g) const { download_matrix(g, g_.get()); }

void QuantEaseOnDevice::download_codes(uint8_t* codes) const {
  std::lock_guard<std::mutex> lock(dev_.mutex);
  dev_.api.download(codes, size_t(cols_), codes_.get(), size_t(cols_), size_t(cols_), size_t(rows_));
}

void QuantEaseOnDevice::refresh() {
  std::lock_guard<std::mutex> lock(dev_.mutex);
  DeviceApi& d = dev_.api;
  d.subtract(t_.f32(), q_.f32(), r_.f32(), rows_ * cols_);
  d.gemm(false, false, rows_, cols_, cols_, 1.0f, r_.f32(), cols_, s_.f32(), cols_, 0.0f, g_.f32(), cols_);
}

void QuantEaseOnDevice::sweep(bool relaxed) {
  std::lock_guard<std::mutex> lock(dev_.mutex);
  DeviceApi& d = dev_.api;
  const float* scales = grid_.f32();
  const float* zeros = grid_.f32() + grid_.bytes() / 2 / kF;
  const auto* group_of = static_cast<const int32_t*>(group_of_.get());
  auto* codes = static_cast<uint8_t*>(codes_.get());
  for (int64_t b0 = 0; b0 < cols_; b0 += kBlock) {
    const int64_t b1 = std::min(cols_, b0 + kBlock), width = b1 - b0;
    d.quantease_affine_block(q_.f32(), g_.f32(), rows_, cols_, s_.f32(), b0, b1, scales, zeros, group_of, bits_,
                             relaxed, codes, delta_.f32(), kBlock);
    // The block's changes of T - Q reach the later columns of G; earlier columns wait for the refresh.
    if (b1 < cols_)
      d.gemm(false, false, rows_, cols_ - b1, width, 1.0f, delta_.f32(), kBlock, s_.f32() + b0 * cols_ + b1, cols_,
             1.0f, g_.f32() + b1, cols_);
  }
}

void QuantEaseOnDevice::multiply_s(const float* v, float* sv) {
  std::lock_guard<std::mutex> lock(dev_.mutex);
  DeviceApi& d = dev_.api;
  const size_t bytes = size_t(cols_) * kF;
  float* dv = vec_.f32();
  float* dsv = vec_.f32() + cols_;
  d.upload(dv, bytes, v, bytes, bytes, 1);
  d.gemm(false, false, cols_, 1, cols_, 1.0f, s_.f32(), cols_, dv, 1, 0.0f, dsv, 1);
  d.download(sv, bytes, dsv, bytes, bytes, 1);
}

}  // namespace sq
