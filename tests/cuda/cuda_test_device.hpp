// The GPU the cuda tests run on: a CUDA backend or DeviceApi on device 0, or nothing (the test then reports
// SKIPPED with the reason) without a CUDA build or a visible GPU.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "backend/device_api.hpp"
#include "backend/offload/offload_backend.hpp"
#ifdef SQ_HAVE_CUDA
#include "backend/cuda/cuda_backend.hpp"
#endif

namespace sqtest {

// A CUDA backend on device 0 with the given budget (min_device_flops 0: every operation runs on the GPU).
inline std::unique_ptr<sq::Backend> gpu(uint64_t budget = uint64_t(4) << 30, double min_flops = 0.0) {
#ifdef SQ_HAVE_CUDA
  if (sq::cuda_device_count() == 0) return nullptr;
  sq::OffloadOptions o;
  o.budget_bytes = budget;
  o.min_device_flops = min_flops;
  return sq::make_offload_backend(sq::make_cuda_device_api(0), o);
#else
  (void)budget;
  (void)min_flops;
  return nullptr;
#endif
}

// The raw CUDA DeviceApi on device 0, for kernel-level checks.
inline std::unique_ptr<sq::DeviceApi> gpu_api() {
#ifdef SQ_HAVE_CUDA
  if (sq::cuda_device_count() == 0) return nullptr;
  return sq::make_cuda_device_api(0);
#else
  return nullptr;
#endif
}

inline const char* why_no_gpu() {
#ifdef SQ_HAVE_CUDA
  return "no CUDA device visible";
#else
  return "this build has no CUDA backend (configure with -DSQ_WITH_CUDA=ON)";
#endif
}

}  // namespace sqtest

#define REQUIRE_GPU(be) \
  if (!(be)) GTEST_SKIP() << sqtest::why_no_gpu()
