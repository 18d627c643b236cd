// The masked softmax between the two batched GEMMs of attention (device block forward).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

namespace sq::cuda {

// In place over `batch` score matrices [tokens, tokens] stored back to back: row i is normalized over keys
// [i - window + 1, i] (window <= 0: [0, i]) and every other entry set to 0.
cudaError_t launch_causal_softmax(float* scores, int64_t tokens, int64_t batch, int64_t window, cudaStream_t stream);

}  // namespace sq::cuda
