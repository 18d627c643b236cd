#include "quant/solver_rtn.hpp"

#include <vector>

namespace sq {

void rtn_round(Backend& backend, float* w, int64_t /*rows*/, int64_t cols, const GroupSchedule& schedule,
               ChunkedGrids& grids, const float* importance, uint8_t* codes) {
  backend.parallel_for(grids.n_chunks(), [&](int64_t chunk_begin, int64_t chunk_end) {
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t r0 = grids.chunk_begin(chunk), n = grids.chunk_end(chunk) - r0;
      if (schedule.fit_during_sweep) {
        for (int64_t g = 0; g < schedule.n_groups; ++g) {
          const int64_t c0 = schedule.first_column(g);
          grids.fit(chunk, g, w + r0 * cols + c0, cols, schedule.width(g, cols), importance ? importance + c0 : nullptr);
        }
      }
      std::vector<float> column(static_cast<size_t>(n)), values(static_cast<size_t>(n));
      std::vector<uint8_t> column_codes(static_cast<size_t>(n));
      for (int64_t i = 0; i < cols; ++i) {
        for (int64_t k = 0; k < n; ++k) column[size_t(k)] = w[(r0 + k) * cols + i];
        grids.at(chunk, schedule.group_of[size_t(i)]).quantize_column(column.data(), n, column_codes.data(), values.data());
        for (int64_t k = 0; k < n; ++k) {
          w[(r0 + k) * cols + i] = values[size_t(k)];
          codes[(r0 + k) * cols + i] = column_codes[size_t(k)];
        }
      }
    }
  });
}

}  // namespace sq
