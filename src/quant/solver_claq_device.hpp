// CLAQ's GPTQ sweep resident on a device backend's device. Its grid is fitted per input column, on that column's
// error-updated values across every row, just before the column is rounded, so each column is two launches:
// the fit (one thread block runs kernels/portable/team_kmeans_fit.hpp, the CPU grid's fit step for step) and
// the rounding with its error pushed onto the rest of the 128-column block (a warp per row); the trailing
// update after each block is a GEMM, as in solver_gptq_device.hpp. W and U are uploaded once; the dequantized
// weights, codes, levels, reserved rows and their residuals come back once. Same results as gptq_sweep_columns
// with ColumnKMeansGrid (solver_gptq.hpp): on the host, every column's fit would wait for the whole column to
// come home.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "quant/grid_column_kmeans.hpp"

namespace sq {

// Whether claq_sweep_on_device can run this layer on `be`: a device, a block size the sweep takes, and room
// under the device budget for W, U, the codes, the block error, every column's levels and reserved rows, and
// one column fit's scratch.
bool claq_sweep_fits_device(Backend& be, const ColumnKMeansGrid& grid, int64_t rows, int64_t cols,
                            int64_t block_size);

// w: rows x cols in working order (overwritten with the dequantized values); u: cols x cols upper factor;
// codes: rows x cols. The grid gives each working column's bits and reservation and receives its fit
// (ColumnKMeansGrid::set_column). Throws SQ_ERR_NUMERIC naming the working column when one holds a non-finite
// weight.
void claq_sweep_on_device(DeviceHandle& dev, float* w, int64_t rows, int64_t cols, const float* u,
                          ColumnKMeansGrid& grid, uint8_t* codes, int64_t block_size);

}  // namespace sq
