#include "backend/offload/device_memory.hpp"

#include <cstdio>

#include "util/error.hpp"

namespace sq {

const char* format_bytes(uint64_t bytes, char (&buf)[32]) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

void DeviceMemory::set_budget(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  budget_ = bytes;
}
uint64_t DeviceMemory::budget() const {
  std::lock_guard<std::mutex> lock(mu_);
  return budget_;
}
uint64_t DeviceMemory::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}
uint64_t DeviceMemory::peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}
uint64_t DeviceMemory::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return budget_ > in_use_ ? (budget_ - in_use_) / kGranule * kGranule : 0;
}

void* DeviceMemory::allocate(size_t bytes, const char* what) {
  const uint64_t need = rounded(bytes == 0 ? 1 : bytes);
  std::lock_guard<std::mutex> lock(mu_);
  char b1[32], b2[32], b3[32];
  if (need > budget_ || in_use_ > budget_ - need)
    throw_error(SQ_ERR_OUT_OF_MEMORY, api_.name(), ": ", what, " needs ", format_bytes(need, b1),
                " of device memory but only ", format_bytes(budget_ > in_use_ ? budget_ - in_use_ : 0, b2), " of the ",
                format_bytes(budget_, b3), " budget is free; raise the budget (--gpu-mem-budget) or use smaller inputs");
  void* p = api_.allocate(size_t(need));
  if (p == nullptr)
    throw_error(SQ_ERR_OUT_OF_MEMORY, api_.name(), ": the device has no memory left for ", what, " (",
                format_bytes(need, b1), ", with ", format_bytes(in_use_, b2), " in use under a ",
                format_bytes(budget_, b3), " budget); lower --gpu-mem-budget to what the device can give");
  in_use_ += need;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void DeviceMemory::release(void* ptr, size_t bytes) noexcept {
  if (ptr == nullptr) return;
  api_.release(ptr);
  std::lock_guard<std::mutex> lock(mu_);
  in_use_ -= rounded(bytes == 0 ? 1 : bytes);
}

}  // namespace sq
