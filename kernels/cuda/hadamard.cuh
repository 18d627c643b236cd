// Launchers for HIGGS's Hadamard rotation on the device (DeviceApi::hadamard_rotate_rows, transpose_square,
// symmetrize_average give the contracts).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

constexpr int64_t kMaxHadamardBlock = 8192;  // one block's values in shared memory (32 KiB)

// factor: 1 / sqrt(block) as the host computes it (float(1.0 / std::sqrt(double(block)))).
cudaError_t launch_hadamard_rotate_rows(float* w, int64_t rows, int64_t cols, int64_t ld, int64_t block,
                                        const float* signs, bool inverse, float factor, cudaStream_t stream);
cudaError_t launch_transpose_square(float* a, int64_t n, cudaStream_t stream);
cudaError_t launch_symmetrize_average(float* a, int64_t n, cudaStream_t stream);

}  // namespace sq::cuda
