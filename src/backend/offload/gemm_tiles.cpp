#include "backend/offload/gemm_tiles.hpp"

namespace sq {
namespace {

uint64_t tile_bytes(int64_t rows, int64_t cols, uint64_t granule) {
  const uint64_t b = uint64_t(rows) * uint64_t(cols) * sizeof(float);
  return (b + granule - 1) / granule * granule;
}

int64_t half(int64_t x) { return (x + 1) / 2; }

}  // namespace

GemmTiles plan_gemm_tiles(int64_t m, int64_t n, int64_t k, uint64_t bytes, uint64_t granule) {
  GemmTiles t{m, n, k};
  auto total = [&](const GemmTiles& s) {
    return tile_bytes(s.m, s.k, granule) + tile_bytes(s.k, s.n, granule) + tile_bytes(s.m, s.n, granule);
  };
  while (total(t) > bytes) {
    if (t.m == 1 && t.n == 1 && t.k == 1) return GemmTiles{};
    // Bytes saved by halving each dimension (0 when it is already 1).
    const uint64_t save_m = t.m > 1 ? uint64_t(t.m - half(t.m)) * uint64_t(t.k + t.n) : 0;
    const uint64_t save_n = t.n > 1 ? uint64_t(t.n - half(t.n)) * uint64_t(t.k + t.m) : 0;
    const uint64_t save_k = t.k > 1 ? uint64_t(t.k - half(t.k)) * uint64_t(t.m + t.n) : 0;
    if (save_m >= save_n && save_m >= save_k && save_m > 0)
      t.m = half(t.m);
    else if (save_n >= save_k && save_n > 0)
      t.n = half(t.n);
    else
      t.k = half(t.k);
  }
  return t;
}

}  // namespace sq
