// Code in kernels/portable/ compiles both for the host (g++, the CPU tests) and for the device (nvcc, the
// CUDA kernels): no CUDA API, no allocation, no exceptions. The CPU tests check this very source against the
// CPU reference bit for bit, so a machine without a GPU verifies the arithmetic the GPU will run; only the
// launch around it needs a GPU to test. Files that run it on the device are compiled with --fmad=false
// (cmake/Cuda.cmake): the host does not contract a * b + c into a fused multiply-add, so neither may the GPU.
#pragma once

#ifdef __CUDACC__
#define SQ_PORTABLE __host__ __device__
#else
#define SQ_PORTABLE
#endif

namespace sq {
// std::min and std::max as the standard defines them, for device code too: CUDA's fminf and fmaxf may return
// either zero of a +0 / -0 pair and skip a NaN wherever it is, while these, like the host's, keep the first
// argument unless the second compares strictly below (above) it.
SQ_PORTABLE inline float min_first(float a, float b) { return b < a ? b : a; }
SQ_PORTABLE inline float max_first(float a, float b) { return a < b ? b : a; }
}  // namespace sq
