// A linear group's Hessian accumulated on the device from inputs that are already there (the device block
// forward's captures), with the same running average as HessianAccumulator, so that the calibration
// activations never cross the bus for it. Only the finished matrix is downloaded.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "backend/offload/device_memory.hpp"
#include "pipeline/hessian.hpp"

namespace sq {

class DeviceHessian {
 public:
  // Allocates the features x features matrix under the device budget.
  DeviceHessian(DeviceHandle& dev, int64_t features);
  int64_t features() const { return features_; }

  // x [tokens, features] in device memory, the inputs of `sequences` sequences. Called with the device lock
  // held (from a DeviceCaptureFn).
  void add(const float* x, int64_t tokens, int64_t sequences = 1);

  // The matrix so far, both triangles, on the host.
  HessianAccumulator download();

 private:
  DeviceHandle& dev_;
  int64_t features_;
  int64_t sequences_ = 0;
  DeviceBuffer h_;
};

}  // namespace sq
