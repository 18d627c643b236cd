// The CUDA backend: the Backend interface on one GPU (cuBLAS, cuSOLVER, kernels/cuda). Pointers given to
// it are device pointers. Built only with SQ_HAVE_CUDA; every CUDA error becomes an sq::Error
// (SQ_ERR_DEVICE), never an abort.
#pragma once
#include <cstdint>
#include <memory>

#include "backend/backend.hpp"

namespace sq {

// Number of visible CUDA devices (0 when the driver or a device is missing).
int cuda_device_count();
// Throws SQ_ERR_DEVICE when the device does not exist or cannot be initialized.
std::unique_ptr<Backend> make_cuda_backend(int device, int host_threads);

}  // namespace sq
