#include "quant/group_schedule.hpp"

#include <algorithm>

namespace sq {

int64_t GroupSchedule::width(int64_t group, int64_t cols) const {
  if (group_size <= 0) return cols;
  return std::min(group_size, cols - first_column(group));
}

GroupSchedule make_group_schedule(int64_t cols, int64_t group_size, bool static_groups, const std::vector<int32_t>& perm) {
  GroupSchedule s;
  s.group_of.assign(size_t(cols), 0);
  if (group_size <= 0 || group_size >= cols) {
    // One group covering the whole row: fitted up front on the whole row, order does not matter.
    s.group_size = group_size <= 0 ? -1 : group_size;
    s.n_groups = 1;
    s.fit_during_sweep = group_size > 0 && !static_groups;
    return s;
  }
  s.group_size = group_size;
  s.n_groups = (cols + group_size - 1) / group_size;
  s.fit_during_sweep = !static_groups;
  for (int64_t i = 0; i < cols; ++i) {
    const int64_t original = perm.empty() ? i : perm[size_t(i)];
    s.group_of[size_t(i)] = int32_t((static_groups ? original : i) / group_size);
  }
  return s;
}

std::vector<int32_t> group_index_by_original_column(const GroupSchedule& schedule, const std::vector<int32_t>& perm) {
  std::vector<int32_t> g_idx(schedule.group_of.size());
  for (size_t i = 0; i < g_idx.size(); ++i) g_idx[perm.empty() ? i : size_t(perm[i])] = schedule.group_of[i];
  return g_idx;
}

}  // namespace sq
