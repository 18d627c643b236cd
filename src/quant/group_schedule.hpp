// Which group's grid rounds each column of the working (possibly permuted) order, and when groups
// are fitted. Groups follow the working order unless they are static (fitted up front on the original
// column order, as GPTQ's static_groups does, so g_idx stays monotonic even with act-order).
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

struct GroupSchedule {
  int64_t group_size = -1;        // -1: one group per row (per-channel)
  int64_t n_groups = 1;
  bool fit_during_sweep = false;  // true: group g is fitted when the sweep reaches working column g * group_size
  std::vector<int32_t> group_of;  // working column -> group

  // Working columns a group fitted during the sweep covers: [first, first + width).
  int64_t first_column(int64_t group) const { return group * group_size; }
  int64_t width(int64_t group, int64_t cols) const;
};

// perm: working column i holds original column perm[i]; empty = identity.
GroupSchedule make_group_schedule(int64_t cols, int64_t group_size, bool static_groups, const std::vector<int32_t>& perm);

// g_idx (original column order): the group of each original column.
std::vector<int32_t> group_index_by_original_column(const GroupSchedule& schedule, const std::vector<int32_t>& perm);

}  // namespace sq
