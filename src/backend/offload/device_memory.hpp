// Device memory under a hard budget. Every device allocation the offload backend makes goes through here,
// so the budget (--gpu-mem-budget, sq_context_set_memory_budget) is never exceeded: a request that would
// exceed it fails with SQ_ERR_OUT_OF_MEMORY naming what needed the memory, the request and the budget.
// The device runtime's own context memory and library workspaces are outside the count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "backend/device_api.hpp"

namespace sq {

class DeviceMemory {
 public:
  DeviceMemory(DeviceApi& api, uint64_t budget) : api_(api), budget_(budget) {}

  void set_budget(uint64_t bytes);
  uint64_t budget() const;
  uint64_t in_use() const;
  uint64_t peak() const;
  // Bytes that can still be allocated under the budget (allocation rounding included).
  uint64_t available() const;

  // Throws SQ_ERR_OUT_OF_MEMORY when `bytes` would exceed the budget or the device has no memory left.
  void* allocate(size_t bytes, const char* what);
  void release(void* ptr, size_t bytes) noexcept;

  // Allocations are counted in units of this many bytes (the granularity device allocators hand out).
  static constexpr uint64_t kGranule = 256;
  static uint64_t rounded(uint64_t bytes) { return (bytes + kGranule - 1) / kGranule * kGranule; }

 private:
  DeviceApi& api_;
  mutable std::mutex mu_;
  uint64_t budget_;
  uint64_t in_use_ = 0;
  uint64_t peak_ = 0;
};

// One device allocation, released when it goes out of scope.
class DeviceBuffer {
 public:
  DeviceBuffer(DeviceMemory& mem, size_t bytes, const char* what)
      : mem_(mem), bytes_(bytes), ptr_(mem.allocate(bytes, what)) {}
  ~DeviceBuffer() { mem_.release(ptr_, bytes_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  float* f32() const { return static_cast<float*>(ptr_); }
  size_t bytes() const { return bytes_; }
  void* get() const { return ptr_; }

 private:
  DeviceMemory& mem_;
  size_t bytes_;
  void* ptr_;
};

// "1.50 GiB": sizes in error messages and logs.
const char* format_bytes(uint64_t bytes, char (&buf)[32]);

}  // namespace sq
