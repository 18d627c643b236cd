// A bitonic sort as phases of a team program (kernels/portable/team_kmeans_fit.hpp explains teams): every
// phase compares and swaps disjoint pairs, so the team may run its items on any threads in any order. With a
// strict total order the result is the one sorted array, whatever the team.
#pragma once
#include <cstdint>

#include "portable/portable.hpp"

namespace sq {

// Sorts p entries (p a power of two) into the order `before(i, j)` (entry i goes first: a strict total order on
// the entries' current contents); swap(i, j) exchanges two entries.
template <typename Team, typename Before, typename Swap>
SQ_PORTABLE void team_bitonic_sort(Team& team, int64_t p, const Before& before, const Swap& swap) {
  for (int64_t size = 2; size <= p; size *= 2)
    for (int64_t stride = size / 2; stride > 0; stride /= 2)
      team.for_each(p / 2, [&](int64_t t) {
        const int64_t i = 2 * stride * (t / stride) + t % stride, j = i + stride;
        const bool ascending = (i & size) == 0;
        if (ascending ? before(j, i) : before(i, j)) swap(i, j);
      });
}

}  // namespace sq
