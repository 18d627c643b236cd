// A team for the portable team programs (kernels/portable/team_kmeans_fit.hpp explains teams) on the host:
// each phase's items run one after another, forwards or backwards, and size() reports `threads` (the programs
// that split work by team size see the size a kernel's block would have). Running a program both ways and at
// several sizes and getting the same bits shows no item of a phase reads what another item of it writes.
#pragma once
#include <cstdint>

namespace sqtest {

struct HostTeam {
  int threads = 1024;
  bool backwards = false;
  int size() const { return threads; }
  template <typename F>
  void for_each(int64_t n, const F& f) {
    if (backwards)
      for (int64_t i = n - 1; i >= 0; --i) f(i);
    else
      for (int64_t i = 0; i < n; ++i) f(i);
  }
};

}  // namespace sqtest
