// Streaming safetensors writer. The header comes first in the file, so every tensor is declared before
// the first byte of data is written; data then streams in declaration order, in chunks if wanted.
// Atomic: bytes go to a temporary sibling file, renamed over `path` by finish(); a writer destroyed
// without finish() removes its temporary file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/dtype.hpp"

namespace sq {

class SafetensorsWriter {
 public:
  explicit SafetensorsWriter(std::string path);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  void declare(const std::string& name, DType dtype, const std::vector<int64_t>& shape);
  void set_metadata(const std::string& key, const std::string& value);
  // Append bytes of tensor `name`, which must be the tensor currently being written (declaration order).
  void write(const std::string& name, const void* data, size_t nbytes);
  // Convenience: declare-order write of a whole fp32 buffer converted to the declared dtype.
  void write_f32(const std::string& name, const float* data, size_t count);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sq
