// A tiny GGUF writer for tests: builds files byte by byte so tests can also damage them on purpose.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace sqtest {

class GgufWriter {
 public:
  enum : uint32_t { U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };

  void kv_u32(const std::string& k, uint32_t v) { key(k, U32); put(v); ++kv_; }
  void kv_u64(const std::string& k, uint64_t v) { key(k, U64); put(v); ++kv_; }
  void kv_i32(const std::string& k, int32_t v) { key(k, I32); put(v); ++kv_; }
  void kv_f32(const std::string& k, float v) { key(k, F32); put(v); ++kv_; }
  void kv_f64(const std::string& k, double v) { key(k, F64); put(v); ++kv_; }
  void kv_bool(const std::string& k, bool v) { key(k, BOOL); put(uint8_t(v)); ++kv_; }
  void kv_string(const std::string& k, const std::string& v) { key(k, STRING); str(v); ++kv_; }
  void kv_strings(const std::string& k, const std::vector<std::string>& v) {
    key(k, ARRAY); put(uint32_t(STRING)); put(uint64_t(v.size()));
    for (const auto& s : v) str(s);
    ++kv_;
  }
  void kv_i32s(const std::string& k, const std::vector<int32_t>& v) {
    key(k, ARRAY); put(uint32_t(I32)); put(uint64_t(v.size()));
    for (int32_t x : v) put(x);
    ++kv_;
  }
  // Raw bytes after the key and type: for malformed values.
  void kv_raw(const std::string& k, uint32_t type, const std::vector<uint8_t>& bytes) {
    key(k, type); meta_.insert(meta_.end(), bytes.begin(), bytes.end()); ++kv_;
  }

  // ne in GGUF order (ne[0] contiguous); data is the stored bytes.
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t ggml_type, std::vector<uint8_t> data) {
    tensors_.push_back({name, std::move(ne), ggml_type, std::move(data)});
  }

  std::vector<uint8_t> bytes(uint32_t version = 3, uint64_t alignment = 32) const {
    std::vector<uint8_t> out;
    append(out, uint32_t(0x46554747u));
    append(out, version);
    append(out, uint64_t(tensors_.size()));
    append(out, uint64_t(kv_));
    out.insert(out.end(), meta_.begin(), meta_.end());
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
      append(out, uint64_t(t.name.size()));
      out.insert(out.end(), t.name.begin(), t.name.end());
      append(out, uint32_t(t.ne.size()));
      for (uint64_t n : t.ne) append(out, n);
      append(out, t.type);
      append(out, offset);
      offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    for (const auto& t : tensors_) {
      out.insert(out.end(), t.data.begin(), t.data.end());
      out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
    }
    return out;
  }

  static void save(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }

  template <typename T>
  static void append(std::vector<uint8_t>& out, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
  }

 private:
  struct Tensor { std::string name; std::vector<uint64_t> ne; uint32_t type; std::vector<uint8_t> data; };
  template <typename T> void put(T v) { append(meta_, v); }
  void str(const std::string& s) { put(uint64_t(s.size())); meta_.insert(meta_.end(), s.begin(), s.end()); }
  void key(const std::string& k, uint32_t type) { str(k); put(type); }

  std::vector<uint8_t> meta_;
  uint64_t kv_ = 0;
  std::vector<Tensor> tensors_;
};

// Bytes of a float vector stored as F32.
inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A fresh path under the build's temporary directory.
inline std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/sq_test_" + std::to_string(::getpid()) + "_" + name;
}

}  // namespace sqtest
