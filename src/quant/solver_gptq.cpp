#include "quant/solver_gptq.hpp"

#include <algorithm>
#include <vector>

#include "util/error.hpp"

namespace sq {

DampedInverse damped_inverse_cholesky(Backend& backend, const float* h, int64_t n, double damp, const Logger& log) {
  double mean_diag = 0;
  for (int64_t j = 0; j < n; ++j) mean_diag += h[j * n + j];
  mean_diag /= double(n);

  DampedInverse result;
  result.u.resize(size_t(n * n));
  double tried = damp;
  for (;;) {
    std::copy(h, h + n * n, result.u.begin());
    const float add = float(tried * mean_diag);
    for (int64_t j = 0; j < n; ++j) result.u[size_t(j * n + j)] += add;
    if (backend.cholesky_inverse_upper(result.u.data(), n, n)) {
      result.damp_used = tried;
      return result;
    }
    if (tried >= 1.0)
      throw_error(SQ_ERR_NUMERIC, "Hessian H (", n, " x ", n, ") is not positive definite even with damp ", tried,
                  " (damping ", tried, " * mean(diag H) = ", tried * mean_diag,
                  "); check the calibration activations for overflow or degenerate inputs");
    const double next = std::min(1.0, tried > 0 ? tried * 10 : 0.01);
    log.warn("Hessian H (", n, " x ", n, ") is not positive definite with damp ", tried, "; retrying with damp ", next);
    tried = next;
  }
}

namespace {

// w[j] -= err * u[j]: kept separate and branch-free so the compiler vectorizes it.
inline void subtract_scaled(float* __restrict w, const float* __restrict u, float err, int64_t n) {
  for (int64_t j = 0; j < n; ++j) w[j] -= err * u[j];
}

struct ChunkScratch {
  std::vector<float> column, values;
  std::vector<uint8_t> codes;
  explicit ChunkScratch(int64_t n) : column(static_cast<size_t>(n)), values(static_cast<size_t>(n)), codes(static_cast<size_t>(n)) {}
};

}  // namespace

void gptq_sweep(Backend& backend, float* w, int64_t rows, int64_t cols, const float* u, const GroupSchedule& schedule,
                ChunkedGrids& grids, const float* importance, uint8_t* codes, int64_t block_size) {
  // Err of the current block, rows x block_size: the left factor of the trailing GEMM update.
  std::vector<float> err(size_t(rows * block_size));
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const int64_t i2 = std::min(cols, i1 + block_size);
    backend.parallel_for(grids.n_chunks(), [&](int64_t chunk_begin, int64_t chunk_end) {
      for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
        const int64_t r0 = grids.chunk_begin(chunk), n = grids.chunk_end(chunk) - r0;
        if (schedule.fit_during_sweep) {
          for (int64_t g = (i1 + schedule.group_size - 1) / schedule.group_size;
               g < schedule.n_groups && schedule.first_column(g) < i2; ++g) {
            const int64_t c0 = schedule.first_column(g);
            grids.fit(chunk, g, w + r0 * cols + c0, cols, schedule.width(g, cols), importance ? importance + c0 : nullptr);
          }
        }
        ChunkScratch s(n);
        for (int64_t i = i1; i < i2; ++i) {
          const GroupGrid& grid = grids.at(chunk, schedule.group_of[size_t(i)]);
          for (int64_t k = 0; k < n; ++k) s.column[size_t(k)] = w[(r0 + k) * cols + i];
          grid.quantize_column(s.column.data(), n, s.codes.data(), s.values.data());
          const float d = u[i * cols + i];
          const float* u_row = u + i * cols + i + 1;
          for (int64_t k = 0; k < n; ++k) {
            const int64_t r = r0 + k;
            const float e = (s.column[size_t(k)] - s.values[size_t(k)]) / d;
            err[size_t(r * block_size + (i - i1))] = e;
            codes[r * cols + i] = s.codes[size_t(k)];
            float* w_row = w + r * cols;
            w_row[i] = s.values[size_t(k)];
            subtract_scaled(w_row + i + 1, u_row, e, i2 - i - 1);
          }
        }
      }
    });
    // Lazy batch update: the columns after the block receive the whole block's error at once.
    if (i2 < cols)
      backend.gemm(false, false, rows, cols - i2, i2 - i1, -1.0f, err.data(), block_size, u + i1 * cols + i2, cols, 1.0f,
                   w + i2, cols);
  }
}

}  // namespace sq
