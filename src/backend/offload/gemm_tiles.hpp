// How to cut a GEMM so that its operand tiles fit in a given amount of device memory.
#pragma once
#include <cstdint>

namespace sq {

struct GemmTiles {
  int64_t m = 0, n = 0, k = 0;  // all 0: not even 1 x 1 x 1 fits
};

// Largest tiles (found by halving) such that an op(A) tile [tm, tk], an op(B) tile [tk, tn] and a C tile
// [tm, tn] of fp32 fit in `bytes`, each allocation rounded up to `granule` bytes. Halves the dimension whose
// halving frees the most memory; splitting k is the last resort on ties, since each extra k step re-reads
// the C tile.
GemmTiles plan_gemm_tiles(int64_t m, int64_t n, int64_t k, uint64_t bytes, uint64_t granule);

}  // namespace sq
