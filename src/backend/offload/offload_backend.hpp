// A Backend on host memory that runs its large dense operations (GEMM, SYRK, Cholesky) on a device through
// DeviceApi, staging operands in tiles sized to the device memory budget, and everything else (small
// operations, parallel_for) on a host CPU backend. Callers keep passing host pointers, so every algorithm
// that runs on the CPU backend runs unchanged here.
//
// Device work is serialized by a mutex: the pipeline may call gemm from several parallel_for workers, and
// those small calls normally stay on the host anyway (min_device_flops).
#pragma once
#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "backend/device_api.hpp"

namespace sq {

struct OffloadOptions {
  uint64_t budget_bytes = uint64_t(32) << 30;
  // Operations with fewer floating-point operations than this run on the host: staging costs more.
  double min_device_flops = double(1 << 26);
  int host_threads = 0;  // <= 0: all hardware threads
};

std::unique_ptr<Backend> make_offload_backend(std::unique_ptr<DeviceApi> device, const OffloadOptions& opts);

}  // namespace sq
