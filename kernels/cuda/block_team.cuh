// The team of the portable team programs (kernels/portable/team_kmeans_fit.hpp) on the device: one thread
// block. A phase's items are spread over the block's threads, then a barrier, which also makes the phase's
// global-memory writes visible to the whole block. Included by .cu files only.
#pragma once
#include <cstdint>

namespace sq::cuda {

struct BlockTeam {
  __device__ int size() const { return int(blockDim.x); }
  template <typename F>
  __device__ void for_each(int64_t n, const F& f) {
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) f(i);
    __syncthreads();
  }
};

}  // namespace sq::cuda
