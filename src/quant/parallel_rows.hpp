// Split [0, rows) into contiguous ranges and run body(begin, end) on each, one std::thread per range
// (the calling thread takes the first). Used by the row-wise transforms in this folder, which are called
// below the backend layer and so do not take a Backend. body must not throw.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace sq {

// threads = 0: std::thread::hardware_concurrency(). min_rows_per_thread keeps tiny jobs on one thread.
template <typename Body>
void parallel_rows(int64_t rows, int threads, const Body& body, int64_t min_rows_per_thread = 1) {
  int64_t nt = threads > 0 ? threads : int64_t(std::max(1u, std::thread::hardware_concurrency()));
  nt = std::max<int64_t>(1, std::min(nt, rows / std::max<int64_t>(1, min_rows_per_thread)));
  if (nt == 1) {
    body(int64_t(0), rows);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(size_t(nt - 1));
  const int64_t per = (rows + nt - 1) / nt;
  for (int64_t t = 1; t < nt; ++t) {
    const int64_t b = std::min(rows, t * per), e = std::min(rows, b + per);
    pool.emplace_back([&body, b, e] { body(b, e); });
  }
  body(int64_t(0), std::min(rows, per));
  for (auto& th : pool) th.join();
}

}  // namespace sq
