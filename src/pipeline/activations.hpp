// The calibration activations between blocks: [n_samples, seq_len, hidden], held in fp32 or, to bound
// memory, in fp16/bf16 (rounded once per block boundary). Saved and loaded bit-exactly for resume.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "util/dtype.hpp"

namespace sq {

class ActivationStore {
 public:
  // `pin_with` (nullable; must outlive the store): a device whose page-locked host memory holds an fp32 store,
  // so the device can copy a block's outputs straight into it while it computes (BlockPasses::advance).
  // Ordinary memory for fp16/bf16 (their values pass through a conversion on the host anyway) or when the
  // system refuses to lock that much memory.
  ActivationStore(int64_t n_samples, int64_t seq_len, int64_t hidden, DType dtype, DeviceHandle* pin_with = nullptr);
  ~ActivationStore();
  ActivationStore(const ActivationStore&) = delete;
  ActivationStore& operator=(const ActivationStore&) = delete;

  int64_t samples() const { return n_; }
  int64_t sample_floats() const { return seq_ * hidden_; }
  void get(int64_t s, float* dst) const;
  void put(int64_t s, const float* src);
  // Sample s in place when the store holds fp32 (a device may download into it), else nullptr.
  float* f32_sample(int64_t s);
  bool pinned() const { return pinned_ != nullptr; }
  void save(const std::string& path) const;  // atomic
  void load(const std::string& path);        // size must match exactly

 private:
  uint8_t* data() { return pinned_ ? pinned_ : bytes_.data(); }
  const uint8_t* data() const { return pinned_ ? pinned_ : bytes_.data(); }
  size_t offset(int64_t s) const { return size_t(s * sample_floats()) * elem_; }

  int64_t n_, seq_, hidden_;
  DType dtype_;
  size_t elem_;
  size_t size_ = 0;
  std::vector<uint8_t> bytes_;      // ordinary memory
  DeviceHandle* pin_ = nullptr;     // the device that allocated pinned_
  uint8_t* pinned_ = nullptr;       // page-locked memory (holding the values), or null
};

}  // namespace sq
