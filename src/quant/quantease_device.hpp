// QuantEase's sweeps resident on a device backend's device (solver_quantease.hpp gives the algorithm). S, the
// target T, Q, G = (T - Q) S, the codes and the affine grid live there for the whole layer: each 128-column
// block of a sweep is one warp-per-row kernel (DeviceApi::quantease_affine_block) and one GEMM carrying its
// changes to the later columns of G, and a refresh is one subtraction and one GEMM. Nothing crosses the bus
// between sweeps unless the caller asks for it (the outlier steps and the objective trace need G and Q on the
// host). Each call is issued in the order and with the shapes of the host solver, so over a device whose
// kernels are the CPU reference the results are the host solver's bits.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "backend/offload/device_memory.hpp"

namespace sq {

class QuantEaseOnDevice {
 public:
  // Columns per sweep block (the host solver's block: the same GEMM shapes).
  static constexpr int64_t kBlock = 128;

  // Whether a rows x cols layer with n_groups affine groups fits under what is left of the device budget.
  static bool fits(Backend& be, int64_t rows, int64_t cols, int64_t n_groups);

  // Uploads the damped S (cols x cols), the grid ([g * rows + r] scales and zeros) and the column-to-group map.
  QuantEaseOnDevice(DeviceHandle& dev, int64_t rows, int64_t cols, const float* s, const std::vector<float>& scales,
                    const std::vector<float>& zeros, const std::vector<int32_t>& group_of, int bits);

  void upload_target(const float* t);  // rows x cols, each
  void upload_q(const float* q);
  void upload_g(const float* g);
  void download_q(float* q) const;
  void download_g(float* g) const;
  void download_codes(uint8_t* codes) const;

  void refresh();            // G = (T - Q) S
  void sweep(bool relaxed);  // one coordinate-descent pass over all columns (G must be exact)
  void multiply_s(const float* v, float* sv);  // sv = S v for host vectors of cols values

 private:
  void upload_matrix(void* dst, const float* src) const;
  void download_matrix(float* dst, const void* src) const;

  DeviceHandle& dev_;
  int64_t rows_, cols_;
  int bits_;
  DeviceBuffer s_, t_, q_, g_, r_, delta_, codes_, grid_, group_of_, vec_;
};

}  // namespace sq
