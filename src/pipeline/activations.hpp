// The calibration activations between blocks: [n_samples, seq_len, hidden], held in fp32 or, to bound
// memory, in fp16/bf16 (rounded once per block boundary). Saved and loaded bit-exactly for resume.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/dtype.hpp"

namespace sq {

class ActivationStore {
 public:
  ActivationStore(int64_t n_samples, int64_t seq_len, int64_t hidden, DType dtype);
  int64_t samples() const { return n_; }
  int64_t sample_floats() const { return seq_ * hidden_; }
  void get(int64_t s, float* dst) const;
  void put(int64_t s, const float* src);
  void save(const std::string& path) const;  // atomic
  void load(const std::string& path);        // size must match exactly

 private:
  int64_t n_, seq_, hidden_;
  DType dtype_;
  size_t elem_;
  std::vector<uint8_t> bytes_;
};

}  // namespace sq
