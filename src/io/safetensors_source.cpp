#include "io/safetensors_source.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/mmap_file.hpp"
#include "io/strict_json.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Real headers are a few hundred kB even for models with thousands of tensors; a bigger length field is a
// corrupt or hostile file, and refusing it early avoids parsing gigabytes of "JSON".
constexpr uint64_t kMaxHeaderBytes = uint64_t(100) << 20;
constexpr uint64_t kMaxIndexBytes = uint64_t(100) << 20;
// Element counts beyond this cannot be addressed anyway and would overflow byte-size arithmetic.
constexpr uint64_t kMaxElements = uint64_t(1) << 60;

// One tensor entry of a header, validated, with its byte range relative to the start of the data section.
struct HeaderEntry {
  TensorDesc desc;
  uint64_t begin = 0, end = 0;
};

struct DTypeName {
  const char* name;
  DType dtype;
};
// F32/F16/BF16 are read; the integer types are listed (e.g. GPTQ qweight) but read_f32 refuses them.
constexpr DTypeName kDTypes[] = {{"F32", SQ_DTYPE_F32}, {"F16", SQ_DTYPE_F16}, {"BF16", SQ_DTYPE_BF16},
                                 {"I32", SQ_DTYPE_I32}, {"I8", SQ_DTYPE_I8},   {"U8", SQ_DTYPE_U8}};

uint64_t read_le_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON value that must be a non-negative integer (shape dims, offsets).
uint64_t non_negative_int(const json& v, const std::string& where) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) throw_error(SQ_ERR_FORMAT, where, " is negative (", v.dump(), ")");
  throw_error(SQ_ERR_FORMAT, where, " must be a non-negative integer, got ", v.dump());
}

HeaderEntry parse_entry(const std::string& file, const std::string& name, const json& e, uint64_t data_size) {
  const std::string where = cat("file '", file, "': tensor '", name, "'");
  if (!e.is_object()) throw_error(SQ_ERR_FORMAT, where, ": entry must be a JSON object, got ", e.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!e.contains(key)) throw_error(SQ_ERR_FORMAT, where, ": missing \"", key, "\"");

  HeaderEntry out;
  out.desc.name = name;
  const json& dt = e["dtype"];
  if (!dt.is_string()) throw_error(SQ_ERR_FORMAT, where, ": \"dtype\" must be a string, got ", dt.dump());
  const std::string dts = dt.get<std::string>();
  const auto* known = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                   [&](const DTypeName& d) { return dts == d.name; });
  if (known == std::end(kDTypes))
    throw_error(SQ_ERR_UNSUPPORTED, where, ": dtype '", dts, "' is not supported (F32, F16, BF16, I32, I8, U8 are)");
  out.desc.dtype = known->dtype;

  const json& shape = e["shape"];
  if (!shape.is_array()) throw_error(SQ_ERR_FORMAT, where, ": \"shape\" must be an array, got ", shape.dump());
  uint64_t numel = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const uint64_t d = non_negative_int(shape[i], cat(where, ": shape[", i, "]"));
    if (d != 0 && numel > kMaxElements / d)
      throw_error(SQ_ERR_FORMAT, where, ": shape ", shape.dump(), " has too many elements");
    numel *= d;
    out.desc.shape.push_back(int64_t(d));  // d <= 2^60 here, so it fits
  }
  // An empty dimension makes the product 0 whatever follows; a later huge dimension still must not wrap.
  const uint64_t nbytes = numel * dtype_size(out.desc.dtype);

  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    throw_error(SQ_ERR_FORMAT, where, ": \"data_offsets\" must be [begin, end], got ", off.dump());
  out.begin = non_negative_int(off[0], where + ": data_offsets[0]");
  out.end = non_negative_int(off[1], where + ": data_offsets[1]");
  if (out.begin > out.end)
    throw_error(SQ_ERR_FORMAT, where, ": data_offsets [", out.begin, ", ", out.end, "] has begin > end");
  if (out.end > data_size)
    throw_error(SQ_ERR_FORMAT, where, ": data_offsets [", out.begin, ", ", out.end, "] run past the end of the data (",
                data_size, " bytes; the file is truncated or corrupt)");
  if (out.end - out.begin != nbytes)
    throw_error(SQ_ERR_FORMAT, where, ": data_offsets [", out.begin, ", ", out.end, "] span ", out.end - out.begin,
                " bytes but shape ", shape.dump(), " of ", dts, " needs ", nbytes);
  return out;
}

void check_metadata(const std::string& file, const json& meta) {
  if (!meta.is_object())
    throw_error(SQ_ERR_FORMAT, "file '", file, "': \"__metadata__\" must be an object, got ", meta.type_name());
  for (const auto& kv : meta.items())
    if (!kv.value().is_string())
      throw_error(SQ_ERR_FORMAT, "file '", file, "': \"__metadata__\" value of '", kv.key(),
                  "' must be a string, got ", kv.value().dump());
}

// Parses and validates the header of a mapped safetensors file. Entries come back sorted by offset.
std::vector<HeaderEntry> parse_header(const MappedFile& f, const uint8_t** data_base) {
  const std::string& file = f.path();
  if (f.size() < 8)
    throw_error(SQ_ERR_FORMAT, "file '", file, "': ", f.size(),
                " bytes is too short for a safetensors file (the 8-byte header length is missing)");
  const uint64_t header_len = read_le_u64(f.data());
  const uint64_t after_len = uint64_t(f.size()) - 8;
  if (header_len > kMaxHeaderBytes)
    throw_error(SQ_ERR_FORMAT, "file '", file, "': header length ", header_len, " exceeds the limit of ",
                kMaxHeaderBytes, " bytes (not a safetensors file, or corrupt)");
  if (header_len > after_len)
    throw_error(SQ_ERR_FORMAT, "file '", file, "': header length ", header_len, " exceeds the ", after_len,
                " bytes that follow it (truncated or corrupt file)");

  const char* hdr = reinterpret_cast<const char*>(f.data() + 8);
  const json root = parse_json_strict(hdr, hdr + header_len, cat("file '", file, "': header"));
  if (!root.is_object()) throw_error(SQ_ERR_FORMAT, "file '", file, "': header must be a JSON object");

  const uint64_t data_size = after_len - header_len;
  std::vector<HeaderEntry> entries;
  entries.reserve(root.size());
  for (const auto& kv : root.items()) {
    if (kv.key() == "__metadata__") {
      check_metadata(file, kv.value());
      continue;
    }
    entries.push_back(parse_entry(file, kv.key(), kv.value(), data_size));
  }
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Two tensors sharing bytes would alias each other; an empty range cannot overlap anything.
  const HeaderEntry* prev = nullptr;
  for (const HeaderEntry& e : entries) {
    if (e.begin == e.end) continue;
    if (prev != nullptr && e.begin < prev->end)
      throw_error(SQ_ERR_FORMAT, "file '", file, "': tensors '", prev->desc.name, "' [", prev->begin, ", ", prev->end,
                  ") and '", e.desc.name, "' [", e.begin, ", ", e.end, ") overlap");
    prev = &e;
  }
  *data_base = f.data() + 8 + header_len;
  return entries;
}

class SafetensorsSource final : public WeightSource {
 public:
  using WeightSource::read_f32;

  const char* format() const override { return "safetensors"; }
  const std::vector<TensorDesc>& tensors() const override { return descs_; }

  void read_f32(size_t index, float* dst) const override {
    check_index(index);
    const TensorDesc& t = descs_[index];
    if (!dtype_is_float(t.dtype))
      throw_error(SQ_ERR_UNSUPPORTED, "file '", files_[locs_[index].file]->path(), "': tensor '", t.name,
                  "' has dtype ", dtype_name(t.dtype), ", which cannot be read as float (only F32, F16, BF16 can)");
    const size_t n = size_t(t.numel());
    if (n == 0) return;  // an empty dst may be nullptr
    convert_to_f32(t.dtype, locs_[index].data, dst, n);
    // The caller now holds the values; the file pages need not stay resident (see release_mapped_pages).
    release_mapped_pages(locs_[index].data, n * dtype_size(t.dtype));
  }

  const void* raw_data(size_t index) const override {
    check_index(index);
    return locs_[index].data;
  }

  // Maps `path` and adds the tensors of its header; `keep` (when non-null) selects which ones.
  // Returns the names that `keep` asked for but the file lacks.
  std::vector<std::string> add_file(const std::string& path, const std::set<std::string>* keep) {
    files_.push_back(std::make_unique<MappedFile>(path));
    const MappedFile& f = *files_.back();
    const uint8_t* base = nullptr;
    std::vector<HeaderEntry> entries = parse_header(f, &base);
    std::set<std::string> seen;
    for (HeaderEntry& e : entries) {
      if (keep != nullptr && keep->count(e.desc.name) == 0) continue;
      seen.insert(e.desc.name);
      locs_.push_back({base + e.begin, files_.size() - 1});
      descs_.push_back(std::move(e.desc));
    }
    std::vector<std::string> missing;
    if (keep != nullptr)
      for (const std::string& n : *keep)
        if (seen.count(n) == 0) missing.push_back(n);
    return missing;
  }

 private:
  struct Location {
    const uint8_t* data;
    size_t file;
  };

  void check_index(size_t index) const {
    if (index >= descs_.size())
      throw_error(SQ_ERR_INVALID_ARGUMENT, "tensor index ", index, " out of range (", descs_.size(), " tensors)");
  }

  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<TensorDesc> descs_;
  std::vector<Location> locs_;
};

void check_shard_name(const std::string& index, const std::string& tensor, const std::string& shard) {
  // Shards must sit next to the index: a name that walks elsewhere is refused, not resolved.
  if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
      shard.find("..") != std::string::npos || shard.find('\0') != std::string::npos)
    throw_error(SQ_ERR_FORMAT, "index '", index, "': tensor '", tensor, "' maps to shard '", shard,
                "', which is not a plain file name in the index's directory");
}

}  // namespace

std::unique_ptr<WeightSource> open_safetensors_file(const std::string& path) {
  auto src = std::make_unique<SafetensorsSource>();
  src->add_file(path, nullptr);
  return src;
}

std::unique_ptr<WeightSource> open_safetensors_index(const std::string& index_json_path) {
  const std::string& index = index_json_path;
  std::error_code ec;
  const uintmax_t size = fs::file_size(index, ec);
  if (ec) throw_error(SQ_ERR_IO, "index '", index, "': ", ec.message());
  if (size > kMaxIndexBytes)
    throw_error(SQ_ERR_FORMAT, "index '", index, "': ", size, " bytes exceeds the limit of ", kMaxIndexBytes);
  const std::string text = read_file(index);
  const json root = parse_json_strict(text.data(), text.data() + text.size(), cat("index '", index, "'"));
  if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object())
    throw_error(SQ_ERR_FORMAT, "index '", index, "': expected an object with a \"weight_map\" object");

  std::map<std::string, std::set<std::string>> by_shard;  // sorted: shards open in a stable order
  for (const auto& kv : root["weight_map"].items()) {
    if (!kv.value().is_string())
      throw_error(SQ_ERR_FORMAT, "index '", index, "': weight_map value of tensor '", kv.key(),
                  "' must be a shard file name, got ", kv.value().dump());
    const std::string shard = kv.value().get<std::string>();
    check_shard_name(index, kv.key(), shard);
    by_shard[shard].insert(kv.key());
  }
  if (by_shard.empty()) throw_error(SQ_ERR_FORMAT, "index '", index, "': weight_map is empty");

  const fs::path dir = fs::path(index).parent_path();
  auto src = std::make_unique<SafetensorsSource>();
  for (const auto& [shard, names] : by_shard) {
    const std::string shard_path = (dir / shard).string();
    // Tensors in a shard but not in weight_map are ignored: the map is what defines the model.
    const std::vector<std::string> missing = src->add_file(shard_path, &names);
    if (!missing.empty())
      throw_error(SQ_ERR_FORMAT, "index '", index, "' maps tensor '", missing.front(), "' to shard '", shard_path,
                  "', which does not contain it",
                  missing.size() > 1 ? cat(" (", missing.size() - 1, " more missing)") : std::string());
  }
  return src;
}

}  // namespace sq
