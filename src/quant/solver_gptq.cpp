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

// Where one block of the sweep writes: columns [i1, i2) and their error rows x block_size.
struct SweepBlock {
  float* w;
  int64_t cols;
  const float* u;
  int64_t i1, i2, block_size;
  float* err;
  uint8_t* codes;
};

// Round column i of rows [r0, r0 + n) with round(column, n, codes, values), record codes and error, and push
// the error onto the columns left in the block. Both sweeps share this step; they differ in loop order.
template <typename Round>
void round_column_rows(const SweepBlock& b, int64_t i, int64_t r0, int64_t n, ChunkScratch& s, const Round& round) {
  for (int64_t k = 0; k < n; ++k) s.column[size_t(k)] = b.w[(r0 + k) * b.cols + i];
  round(s.column.data(), n, s.codes.data(), s.values.data());
  const float d = b.u[i * b.cols + i];
  const float* u_row = b.u + i * b.cols + i + 1;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = r0 + k;
    const float e = (s.column[size_t(k)] - s.values[size_t(k)]) / d;
    b.err[size_t(r * b.block_size + (i - b.i1))] = e;
    b.codes[r * b.cols + i] = s.codes[size_t(k)];
    float* w_row = b.w + r * b.cols;
    w_row[i] = s.values[size_t(k)];
    subtract_scaled(w_row + i + 1, u_row, e, b.i2 - i - 1);
  }
}

// Lazy batch update: the columns after the block receive the whole block's error at once.
void update_after_block(Backend& backend, const SweepBlock& b, int64_t rows) {
  if (b.i2 < b.cols)
    backend.gemm(false, false, rows, b.cols - b.i2, b.i2 - b.i1, -1.0f, b.err, b.block_size, b.u + b.i1 * b.cols + b.i2,
                 b.cols, 1.0f, b.w + b.i2, b.cols);
}

}  // namespace

void gptq_sweep(Backend& backend, float* w, int64_t rows, int64_t cols, const float* u, const GroupSchedule& schedule,
                ChunkedGrids& grids, const float* importance, uint8_t* codes, int64_t block_size) {
  // Err of the current block, rows x block_size: the left factor of the trailing GEMM update.
  std::vector<float> err(size_t(rows * block_size));
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const SweepBlock block{w, cols, u, i1, std::min(cols, i1 + block_size), block_size, err.data(), codes};
    const int64_t i2 = block.i2;
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
          round_column_rows(block, i, r0, n, s, [&](const float* x, int64_t m, uint8_t* c, float* v) {
            grid.quantize_column(x, m, c, v);
          });
        }
      }
    });
    update_after_block(backend, block, rows);
  }
}

void gptq_sweep_columns(Backend& backend, float* w, int64_t rows, int64_t cols, const float* u, ColumnGrid& grid,
                        uint8_t* codes, int64_t block_size, int64_t chunk_rows) {
  chunk_rows = std::max<int64_t>(1, chunk_rows);
  const int64_t n_chunks = (rows + chunk_rows - 1) / chunk_rows;
  std::vector<float> err(size_t(rows * block_size)), column(static_cast<size_t>(rows));
  for (int64_t i1 = 0; i1 < cols; i1 += block_size) {
    const SweepBlock block{w, cols, u, i1, std::min(cols, i1 + block_size), block_size, err.data(), codes};
    // Column-major within the block: a column's grid needs every row of it, so all rows finish column i
    // (and push its error onto i + 1) before column i + 1 is fitted.
    for (int64_t i = i1; i < block.i2; ++i) {
      for (int64_t r = 0; r < rows; ++r) column[size_t(r)] = w[r * cols + i];
      grid.fit(i, column.data(), rows);
      backend.parallel_for(n_chunks, [&](int64_t chunk_begin, int64_t chunk_end) {
        ChunkScratch s(chunk_rows);
        for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
          const int64_t r0 = chunk * chunk_rows, n = std::min(rows, r0 + chunk_rows) - r0;
          round_column_rows(block, i, r0, n, s, [&](const float* x, int64_t m, uint8_t* c, float* v) {
            grid.round(i, r0, x, m, c, v);
          });
        }
      });
    }
    update_after_block(backend, block, rows);
  }
}

}  // namespace sq
