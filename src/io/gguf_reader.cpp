#include "io/gguf_reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "util/error.hpp"

namespace sq {

// ---------------------------------------------------------------------------------------------------
// Read-only private mapping of the whole file, unmapped on destruction. Kept private to the GGUF reader.
class GgufFile::Mapping {
 public:
  explicit Mapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_error(SQ_ERR_IO, "file '", path, "': cannot open: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw_error(SQ_ERR_IO, "file '", path, "': cannot stat: ", std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw_error(SQ_ERR_IO, "file '", path, "': not a regular file");
    }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw_error(SQ_ERR_IO, "file '", path, "': cannot map ", size_, " bytes: ", std::strerror(err));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
  }
  ~Mapping() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

namespace {

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" read as a little-endian u32
constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr uint64_t kMaxNumel = uint64_t(1) << 50;

// Bounds-checked little-endian cursor over the mapped bytes. Every read names what it was reading so a
// truncated file says where it broke.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& what) {
    const uint64_t len = read<uint64_t>(what + " (string length)");
    if (len > remaining())
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': ", what, ": string length ", len, " at byte ", pos_ - 8,
                  " runs past the end of the file (", remaining(), " bytes left)");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }

  // Throws unless `count` items of at least `min_item_bytes` each can still fit in the file: this keeps
  // hostile counts (2^60 tensors) from turning into huge allocations or long loops.
  void check_count(uint64_t count, uint64_t min_item_bytes, const std::string& what) const {
    if (count > remaining() / min_item_bytes)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': ", what, " ", count, " cannot fit in the ", remaining(),
                  " bytes left in the file");
  }

 private:
  void need(size_t n, const std::string& what) const {
    if (n > remaining())
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': truncated at byte ", pos_, " while reading ", what,
                  " (file size ", size_, ")");
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

// The shortest decimal that reads back as `f`, as a double: an f32 1e-5 becomes 1e-05 rather than
// 9.999999747378752e-06, so config.json values look like the ones the model was made with.
double shortest_double(float f) {
  if (!std::isfinite(f)) return double(f);
  char buf[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, double(f));
    if (std::strtof(buf, nullptr) == f) return std::strtod(buf, nullptr);
  }
  return double(f);
}

size_t scalar_bytes(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: return 8;  // at least the length prefix
    case GgufType::Array: return 12;  // element type + count
  }
  return 0;
}

bool known_type(uint32_t t) { return t <= uint32_t(GgufType::F64); }

// Reads one element of scalar type `t` into `v`.
void read_element(Cursor& c, GgufType t, GgufValue& v, const std::string& what, const std::string& path) {
  switch (t) {
    case GgufType::U8: v.ints.push_back(c.read<uint8_t>(what)); return;
    case GgufType::I8: v.ints.push_back(c.read<int8_t>(what)); return;
    case GgufType::U16: v.ints.push_back(c.read<uint16_t>(what)); return;
    case GgufType::I16: v.ints.push_back(c.read<int16_t>(what)); return;
    case GgufType::U32: v.ints.push_back(c.read<uint32_t>(what)); return;
    case GgufType::I32: v.ints.push_back(c.read<int32_t>(what)); return;
    case GgufType::U64: v.ints.push_back(int64_t(c.read<uint64_t>(what))); return;
    case GgufType::I64: v.ints.push_back(c.read<int64_t>(what)); return;
    case GgufType::F32: v.reals.push_back(shortest_double(c.read<float>(what))); return;
    case GgufType::F64: v.reals.push_back(c.read<double>(what)); return;
    case GgufType::Bool: {
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) throw_error(SQ_ERR_FORMAT, "file '", path, "': ", what, ": bool value ", int(b), " is not 0 or 1");
      v.ints.push_back(b);
      return;
    }
    case GgufType::String: v.strings.push_back(c.read_string(what)); return;
    case GgufType::Array: break;
  }
  throw_error(SQ_ERR_INTERNAL, "file '", path, "': ", what, ": read_element called for an array");
}

GgufValue read_value(Cursor& c, uint32_t raw_type, const std::string& key, const std::string& path) {
  const std::string what = "metadata key '" + key + "'";
  if (!known_type(raw_type))
    throw_error(SQ_ERR_FORMAT, "file '", path, "': ", what, ": unknown value type ", raw_type,
                " (expected 0..12)");
  GgufValue v;
  if (GgufType(raw_type) != GgufType::Array) {
    v.type = GgufType(raw_type);
    read_element(c, v.type, v, what, path);
    return v;
  }
  const uint32_t elem = c.read<uint32_t>(what + " (array element type)");
  if (!known_type(elem))
    throw_error(SQ_ERR_FORMAT, "file '", path, "': ", what, ": unknown array element type ", elem,
                " (expected 0..12)");
  if (GgufType(elem) == GgufType::Array)
    throw_error(SQ_ERR_UNSUPPORTED, "file '", path, "': ", what, ": nested arrays are not supported");
  const uint64_t count = c.read<uint64_t>(what + " (array length)");
  c.check_count(count, scalar_bytes(GgufType(elem)), what + ": array length");
  v.type = GgufType(elem);
  v.is_array = true;
  switch (v.type) {
    case GgufType::String: v.strings.reserve(size_t(count)); break;
    case GgufType::F32: case GgufType::F64: v.reals.reserve(size_t(count)); break;
    default: v.ints.reserve(size_t(count)); break;
  }
  for (uint64_t i = 0; i < count; ++i) read_element(c, v.type, v, what, path);
  return v;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

// ---------------------------------------------------------------------------------------------------

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

size_t GgufValue::size() const {
  if (is_string()) return strings.size();
  if (is_float()) return reals.size();
  return ints.size();
}

bool GgufValue::is_integer() const { return !is_float() && !is_string() && type != GgufType::Array; }

uint64_t GgufTensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

DType ggml_type_to_dtype(uint32_t t) {
  switch (t) {
    case 0: return SQ_DTYPE_F32;
    case 1: return SQ_DTYPE_F16;
    case 2: return SQ_DTYPE_Q4_0;
    case 3: return SQ_DTYPE_Q4_1;
    case 8: return SQ_DTYPE_Q8_0;
    case 12: return SQ_DTYPE_Q4_K;
    case 14: return SQ_DTYPE_Q6_K;
    case 30: return SQ_DTYPE_BF16;
    default: return -1;
  }
}

const char* ggml_type_name(uint32_t t) {
  static const char* const names[] = {
      "F32",     "F16",    "Q4_0",   "Q4_1",    "Q4_2", "Q4_3", "Q5_0",   "Q5_1",  "Q8_0", "Q8_1", "Q2_K",
      "Q3_K",    "Q4_K",   "Q5_K",   "Q6_K",    "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
      "IQ3_S",   "IQ2_S",  "IQ4_XS", "I8",      "I16",  "I32",  "I64",    "F64",   "IQ1_M", "BF16",
      "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

GgufFile::~GgufFile() = default;

GgufFile::GgufFile(const std::string& path) : path_(path), mapping_(std::make_unique<Mapping>(path)) {
  Cursor c(mapping_->data(), mapping_->size(), path_);

  const uint32_t magic = c.read<uint32_t>("the magic number");
  if (magic != kMagic)
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': not a GGUF file (magic bytes are not \"GGUF\")");
  version_ = c.read<uint32_t>("the version");
  if (version_ == 1)
    throw_error(SQ_ERR_UNSUPPORTED, "file '", path_, "': GGUF version 1 is not supported (expected 2 or 3); ",
                "re-convert the model with a current llama.cpp");
  if (version_ != 2 && version_ != 3) {
    const bool swapped = (version_ & 0xffffu) == 0 && version_ != 0;
    throw_error(SQ_ERR_UNSUPPORTED, "file '", path_, "': GGUF version ", version_, " is not supported (expected 2 or 3)",
                swapped ? "; the file looks big-endian, which is not supported" : "");
  }
  const uint64_t tensor_count = c.read<uint64_t>("the tensor count");
  const uint64_t kv_count = c.read<uint64_t>("the metadata key count");
  // Smallest possible entries: a key is 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8.
  c.check_count(kv_count, 13, "metadata key count");
  c.check_count(tensor_count, 32, "tensor count");

  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = c.read_string(cat("the key of metadata entry ", i));
    const uint32_t type = c.read<uint32_t>("the value type of metadata key '" + key + "'");
    GgufValue value = read_value(c, type, key, path_);
    if (!metadata_.emplace(key, std::move(value)).second)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' appears twice");
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (a->is_array || !a->is_integer() || a->ints[0] <= 0 || (a->ints[0] & (a->ints[0] - 1)) != 0 ||
        a->ints[0] > (int64_t(1) << 30))
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key 'general.alignment' must be a power of two ",
                  "integer; got type ", gguf_type_name(a->type), a->is_integer() ? cat(" value ", a->ints[0]) : "");
    alignment_ = uint64_t(a->ints[0]);
  }

  c.check_count(tensor_count, 32, "tensor count");
  tensors_.reserve(size_t(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t;
    t.name = c.read_string(cat("the name of tensor ", i));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = c.read<uint32_t>(what + " (n_dims)");
    if (n_dims == 0 || n_dims > kMaxDims)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': ", what, ": n_dims ", n_dims, " is not in 1..", kMaxDims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.read<uint64_t>(what + cat(" (ne[", d, "])"));
      if (ne == 0 || ne > kMaxNumel || numel > kMaxNumel / ne)
        throw_error(SQ_ERR_FORMAT, "file '", path_, "': ", what, ": dimension ne[", d, "] = ", ne,
                    ne == 0 ? " is zero" : " makes the tensor impossibly large");
      numel *= ne;
      t.ne.push_back(ne);
    }
    t.ggml_type = c.read<uint32_t>(what + " (type)");
    t.offset = c.read<uint64_t>(what + " (offset)");
    t.dtype = ggml_type_to_dtype(t.ggml_type);
    if (t.dtype < 0)
      throw_error(SQ_ERR_UNSUPPORTED, "file '", path_, "': ", what, " has ggml type ", t.ggml_type, " (",
                  ggml_type_name(t.ggml_type), "), which is not supported (supported: F32, F16, BF16, Q4_0, Q4_1, ",
                  "Q8_0, Q4_K, Q6_K)");
    const uint64_t block = dtype_block_elems(t.dtype);
    if (t.ne[0] % block != 0)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': ", what, ": row length ne[0] = ", t.ne[0],
                  " is not a multiple of the ", dtype_name(t.dtype), " block size ", block);
    t.nbytes = dtype_storage_bytes(t.dtype, numel, "file '" + path_ + "': " + what);
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  data_begin_ = align_up(c.pos(), alignment_);
  const uint64_t file_size = mapping_->size();
  const uint64_t data_size = data_begin_ <= file_size ? file_size - data_begin_ : 0;
  if (data_begin_ > file_size && !tensors_.empty())
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': truncated: the data section would start at byte ", data_begin_,
                " but the file has ", file_size, " bytes");

  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (const GgufTensorInfo& t : tensors_) {
    if (t.offset % alignment_ != 0)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': tensor '", t.name, "': offset ", t.offset,
                  " is not a multiple of the alignment ", alignment_);
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': tensor '", t.name, "': data [", t.offset, ", ",
                  t.offset + t.nbytes, ") runs past the end of the data section (", data_size, " bytes)");
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& prev = tensors_[order[k - 1]];
    const GgufTensorInfo& cur = tensors_[order[k]];
    if (prev.offset + prev.nbytes > cur.offset)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': tensors '", prev.name, "' and '", cur.name,
                  "' overlap in the data section");
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!tensor_index_.emplace(tensors_[i].name, i).second)
      throw_error(SQ_ERR_FORMAT, "file '", path_, "': tensor name '", tensors_[i].name, "' appears twice");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

uint64_t GgufFile::get_u64(const std::string& key, uint64_t fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->is_array || !v->is_integer() || v->type == GgufType::Bool)
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' should be an integer; it is ",
                v->is_array ? "an array of " : "", gguf_type_name(v->type));
  const bool is_signed = v->type == GgufType::I8 || v->type == GgufType::I16 || v->type == GgufType::I32 ||
                         v->type == GgufType::I64;
  if (is_signed && v->ints[0] < 0)
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' should not be negative; got ",
                v->ints[0]);
  return uint64_t(v->ints[0]);
}

double GgufFile::get_f64(const std::string& key, double fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->is_array || (!v->is_float() && !v->is_integer()) || v->type == GgufType::Bool)
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' should be a number; it is ",
                v->is_array ? "an array of " : "", gguf_type_name(v->type));
  return v->is_float() ? v->reals[0] : double(v->ints[0]);
}

bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->is_array || v->type != GgufType::Bool)
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' should be a bool; it is ",
                v->is_array ? "an array of " : "", gguf_type_name(v->type));
  return v->ints[0] != 0;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->is_array || !v->is_string())
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' should be a string; it is ",
                v->is_array ? "an array of " : "", gguf_type_name(v->type));
  return v->strings[0];
}

const std::vector<std::string>* GgufFile::get_string_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array || !v->is_string())
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key, "' should be an array of strings; it is ",
                v->is_array ? "an array of " : "", gguf_type_name(v->type));
  return &v->strings;
}

const std::vector<int64_t>* GgufFile::get_int_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array || !v->is_integer())
    throw_error(SQ_ERR_FORMAT, "file '", path_, "': metadata key '", key,
                "' should be an array of integers; it is ", v->is_array ? "an array of " : "",
                gguf_type_name(v->type));
  return &v->ints;
}

const uint8_t* GgufFile::tensor_data(size_t i) const {
  if (i >= tensors_.size())
    throw_error(SQ_ERR_INVALID_ARGUMENT, "file '", path_, "': tensor index ", i, " out of range (", tensors_.size(),
                " tensors)");
  return mapping_->data() + data_begin_ + tensors_[i].offset;
}

size_t GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? SIZE_MAX : it->second;
}

}  // namespace sq
