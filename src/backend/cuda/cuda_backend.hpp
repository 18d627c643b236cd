// The CUDA backend: the offload backend (../offload) over one GPU. Large GEMMs, the Hessian SYRK and the
// Cholesky factorizations run on the GPU through cuBLAS/cuSOLVER, staged from host memory within the device
// memory budget; the rest runs on host threads. Built only with SQ_HAVE_CUDA; every CUDA, cuBLAS and
// cuSOLVER failure becomes an sq::Error (SQ_ERR_DEVICE), never an abort.
#pragma once
#include <cstdint>
#include <memory>

#include "backend/backend.hpp"
#include "backend/device_api.hpp"

namespace sq {

// Number of visible CUDA devices (0 when the driver or a device is missing).
int cuda_device_count();
// Throws SQ_ERR_DEVICE when the device does not exist or cannot be initialized.
std::unique_ptr<DeviceApi> make_cuda_device_api(int device);
std::unique_ptr<Backend> make_cuda_backend(int device, int host_threads, uint64_t budget_bytes);

}  // namespace sq
