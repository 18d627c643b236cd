// GGUF (llama.cpp) container parsing: header, typed metadata, tensor infos and the data section, read
// from a memory-mapped file. Every count, length and offset is checked against the file size before it
// is used, so hostile or truncated files give SQ_ERR_FORMAT / SQ_ERR_UNSUPPORTED naming the file and the
// key or tensor at fault, never an out-of-bounds read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/dtype.hpp"

namespace sq {

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. A scalar is stored as a one-element list so that scalars and arrays share the
// accessors; `is_array` tells them apart. Integers and bools land in `ints` (u64 values above INT64_MAX
// keep their bit pattern; `as_u64` refuses negative signed values), floats in `reals`, strings in `strings`.
struct GgufValue {
  GgufType type = GgufType::U8;  // the element type for arrays
  bool is_array = false;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> strings;

  size_t size() const;
  bool is_integer() const;  // U8..I64 or Bool
  bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
  bool is_string() const { return type == GgufType::String; }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ne[0] is the contiguous (input) dimension
  uint32_t ggml_type = 0;    // type id as stored
  DType dtype = SQ_DTYPE_F32;
  uint64_t offset = 0;       // relative to the data section
  uint64_t nbytes = 0;
  uint64_t numel() const;
};

// Maps ggml type ids to SQ_DTYPE_* codes; -1 for types this reader cannot decode.
DType ggml_type_to_dtype(uint32_t ggml_type);
// "Q5_K", "IQ2_XXS", ... for messages; "unknown" for ids not in ggml.
const char* ggml_type_name(uint32_t ggml_type);

class GgufFile {
 public:
  // Parses and validates the whole header; the tensor data stays mapped and is not touched.
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  const GgufValue* find(const std::string& key) const;
  // Typed lookups: absent keys give the fallback; a present key of the wrong type or out of range
  // gives SQ_ERR_FORMAT naming the file and the key.
  bool has(const std::string& key) const { return find(key) != nullptr; }
  uint64_t get_u64(const std::string& key, uint64_t fallback) const;
  double get_f64(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // Arrays: nullptr when absent; SQ_ERR_FORMAT when present with another element type.
  const std::vector<std::string>* get_string_array(const std::string& key) const;
  const std::vector<int64_t>* get_int_array(const std::string& key) const;

  // Stored bytes of tensor i (tensors()[i].nbytes of them), inside the mapping.
  const uint8_t* tensor_data(size_t i) const;
  size_t find_tensor(const std::string& name) const;  // SIZE_MAX when absent

 private:
  class Mapping;
  std::string path_;
  std::unique_ptr<Mapping> mapping_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_begin_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace sq
