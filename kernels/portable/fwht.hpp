// The Walsh-Hadamard transform as a network of radix-2 butterflies. quant/hadamard.cpp runs the network with
// stages fused (8-point chunks, then radix 4), the device kernel (kernels/cuda/hadamard.cu) one stage at a
// time with a thread per butterfly; fusing stages regroups the loops but not the arithmetic (every output is
// the same sums and differences of the same operands, in the same order of stages), so both give the same
// bits. tests/unit/test_fwht_network.cpp checks that claim against fwht_inplace.
#pragma once
#include <cstdint>

#include "portable/portable.hpp"

namespace sq {

// Butterfly i (0 <= i < n / 2) of the stage with span `span` (1, 2, 4, ..., n / 2): the pair (a, a + span)
// with a = (i / span) * 2 span + i % span becomes (x_a + x_b, x_a - x_b).
SQ_PORTABLE inline void fwht_butterfly(float* x, int64_t span, int64_t i) {
  const int64_t a = (i / span) * 2 * span + i % span, b = a + span;
  const float u = x[a], v = x[b];
  x[a] = u + v;
  x[b] = u - v;
}

}  // namespace sq
