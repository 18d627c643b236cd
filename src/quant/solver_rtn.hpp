// Round to nearest: each group's grid is fitted on W and every weight rounded independently; no error
// compensation. The baseline every other solver must beat.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"
#include "quant/chunked_grids.hpp"
#include "quant/group_schedule.hpp"

namespace sq {

// w: rows x cols working order, overwritten with the dequantized values; codes: rows x cols.
void rtn_round(Backend& backend, float* w, int64_t rows, int64_t cols, const GroupSchedule& schedule,
               ChunkedGrids& grids, const float* importance, uint8_t* codes);

}  // namespace sq
