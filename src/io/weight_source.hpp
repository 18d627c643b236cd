// WeightSource: the tensors of an opened model, whatever file format holds them.
// Names and shapes are always in Hugging Face convention (weights are [out_features, in_features]);
// a GGUF source renames and un-permutes on the fly. Storage stays memory-mapped: nothing is copied
// until read_f32 is called for one tensor.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/dtype.hpp"

namespace sq {

struct TensorDesc {
  std::string name;
  DType dtype = SQ_DTYPE_F32;    // storage dtype (SQ_DTYPE_*)
  std::vector<int64_t> shape;    // HF order
  uint64_t numel() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= uint64_t(d);
    return n;
  }
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // "safetensors" or "gguf"
  virtual const char* format() const = 0;
  virtual const std::vector<TensorDesc>& tensors() const = 0;
  // Convert tensor `index` to fp32 into dst (numel floats).
  virtual void read_f32(size_t index, float* dst) const = 0;
  // Zero-copy view of the stored bytes when the stored layout equals the HF layout (plain dtypes,
  // no permutation); nullptr otherwise. Valid while the source lives.
  virtual const void* raw_data(size_t index) const = 0;

  // Lookup by name (built once, on first use, safe from several threads: the job reads the next block's
  // weights on a second thread); returns SIZE_MAX when absent.
  size_t find(const std::string& name) const;
  // Lookup that throws SQ_ERR_NOT_FOUND naming the tensor and `context` (e.g. the file).
  size_t require(const std::string& name) const;
  std::vector<float> read_f32(const std::string& name) const;

 private:
  // Built on first use; a copied source builds its own (its tensors may be the copy's).
  struct NameIndex {
    NameIndex() = default;
    NameIndex(const NameIndex&) {}
    NameIndex& operator=(const NameIndex&) {
      built = std::make_unique<std::once_flag>();
      names.clear();
      return *this;
    }
    std::unique_ptr<std::once_flag> built = std::make_unique<std::once_flag>();
    std::unordered_map<std::string, size_t> names;
  };
  mutable NameIndex index_;
};

}  // namespace sq
