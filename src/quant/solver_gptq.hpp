// The GPTQ / OBQ sweep: round one column at a time and push its rounding error onto the columns not
// yet rounded, weighted by the upper Cholesky factor U of H^-1 (ALGORITHMS.md, "GPTQ / OBQ sweep").
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "quant/chunked_grids.hpp"
#include "quant/column_grid.hpp"
#include "quant/group_schedule.hpp"
#include "util/log.hpp"

namespace sq {

struct DampedInverse {
  std::vector<float> u;   // n x n, upper Cholesky factor of (H + damp * mean(diag H) * I)^-1
  double damp_used = 0;   // relative damping that succeeded
};

// h: n x n symmetric, dead inputs already given a unit diagonal. Starts at `damp` and raises it x10 per
// failed Cholesky, up to 1.0 (each raise is logged as a warning); SQ_ERR_NUMERIC if 1.0 also fails.
DampedInverse damped_inverse_cholesky(Backend& backend, const float* h, int64_t n, double damp, const Logger& log);

// Sweep the working matrix w (rows x cols, row-major; overwritten with the dequantized values) in
// blocks of block_size columns. Groups the schedule fits during the sweep are fitted when their block
// begins, on the weights as updated by all earlier blocks (the published implementation's behaviour;
// identical to "when the sweep reaches the group's first column" whenever block_size divides
// group_size). importance (working order, nullable) is passed to each group fit. codes: rows x cols.
void gptq_sweep(Backend& backend, float* w, int64_t rows, int64_t cols, const float* u, const GroupSchedule& schedule,
                ChunkedGrids& grids, const float* importance, uint8_t* codes, int64_t block_size);

// The same sweep with a grid per column (column_grid.hpp): column i is fitted across all rows, after every
// earlier column's error has reached it, and then rounded by row chunks of chunk_rows rows in parallel.
void gptq_sweep_columns(Backend& backend, float* w, int64_t rows, int64_t cols, const float* u, ColumnGrid& grid,
                        uint8_t* codes, int64_t block_size, int64_t chunk_rows);

}  // namespace sq
