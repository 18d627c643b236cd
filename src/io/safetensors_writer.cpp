#include "io/safetensors_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/posix_file.hpp"

namespace sq {

namespace {

// Data is staged in a buffer so that many small writes (per-row, per-chunk) become few system calls.
constexpr size_t kBufferBytes = size_t(4) << 20;
// write_f32 converts in slices of this many elements, so it needs no full-size temporary.
constexpr size_t kConvertElems = size_t(1) << 16;

struct Declared {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t nbytes;
};

}  // namespace

struct SafetensorsWriter::Impl {
  std::string path, tmp;
  UniqueFd fd;
  std::vector<Declared> tensors;
  std::set<std::string> names;
  std::map<std::string, std::string> metadata;
  bool header_written = false, finished = false, failed = false;
  size_t current = 0;        // index of the tensor receiving data
  uint64_t current_done = 0;  // bytes of it written so far
  std::vector<char> buffer;

  std::string where() const { return cat("file '", path, "'"); }

  void check_usable() const {
    if (finished) throw_error(SQ_ERR_STATE, where(), ": writer already finished");
    if (failed) throw_error(SQ_ERR_STATE, where(), ": writer is unusable after an earlier error");
  }

  void flush() {
    if (buffer.empty()) return;
    write_all(fd.get(), buffer.data(), buffer.size(), path);
    buffer.clear();
  }

  void append(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    if (n >= kBufferBytes) {  // large pieces skip the staging copy
      flush();
      write_all(fd.get(), p, n, path);
      return;
    }
    if (buffer.size() + n > kBufferBytes) flush();
    buffer.insert(buffer.end(), p, p + n);
  }

  void write_header() {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!metadata.empty()) h["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const Declared& t : tensors) {
      // Contiguous, in declaration order: the reference reader rejects gaps between tensors.
      h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
      offset += t.nbytes;
    }
    std::string text = h.dump();
    // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
    text.append((8 - text.size() % 8) % 8, ' ');
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
    append(len, 8);
    append(text.data(), text.size());
    header_written = true;
  }

  // Advance to tensor `name`, which must be the current one or come next in declaration order once the
  // current one is complete (empty tensors in between need no write call).
  void seek(const std::string& name) {
    if (names.count(name) == 0) throw_error(SQ_ERR_STATE, where(), ": tensor '", name, "' was never declared");
    while (current < tensors.size() && tensors[current].name != name) {
      const Declared& t = tensors[current];
      if (current_done != t.nbytes)
        throw_error(SQ_ERR_STATE, where(), ": tensor '", name, "' written while tensor '", t.name, "' has ",
                    current_done, " of its ", t.nbytes, " bytes (tensors are written in declaration order)");
      ++current;
      current_done = 0;
    }
    if (current == tensors.size())
      throw_error(SQ_ERR_STATE, where(), ": tensor '", name,
                  "' written out of declaration order (its turn has passed)");
  }
};

SafetensorsWriter::SafetensorsWriter(std::string path) : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  impl_->tmp = temp_sibling_name(impl_->path);
  // Create the temporary now so that an unwritable destination fails before any work is done.
  impl_->fd = create_exclusive(impl_->tmp);
}

SafetensorsWriter::~SafetensorsWriter() {
  if (!impl_->finished) {
    impl_->fd = UniqueFd();
    ::unlink(impl_->tmp.c_str());
  }
}

void SafetensorsWriter::declare(const std::string& name, DType dtype, const std::vector<int64_t>& shape) {
  Impl& w = *impl_;
  w.check_usable();
  if (w.header_written)
    throw_error(SQ_ERR_STATE, w.where(), ": tensor '", name, "' declared after data writing began");
  if (name.empty() || name == "__metadata__")
    throw_error(SQ_ERR_INVALID_ARGUMENT, w.where(), ": '", name, "' is not a valid tensor name");
  if (!w.names.insert(name).second)
    throw_error(SQ_ERR_INVALID_ARGUMENT, w.where(), ": tensor '", name, "' declared twice");
  if (dtype_size(dtype) == 0)
    throw_error(SQ_ERR_UNSUPPORTED, w.where(), ": tensor '", name, "': dtype ", dtype_name(dtype),
                " cannot be stored in safetensors (F32, F16, BF16, I32, I8, U8 can)");
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw_error(SQ_ERR_INVALID_ARGUMENT, w.where(), ": tensor '", name, "' has a negative dimension ", d);
    if (d != 0 && numel > (uint64_t(1) << 60) / uint64_t(d))
      throw_error(SQ_ERR_INVALID_ARGUMENT, w.where(), ": tensor '", name, "' is too large");
    numel *= uint64_t(d);
  }
  w.tensors.push_back({name, dtype, shape, numel * dtype_size(dtype)});
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  Impl& w = *impl_;
  w.check_usable();
  if (w.header_written) throw_error(SQ_ERR_STATE, w.where(), ": metadata '", key, "' set after data writing began");
  w.metadata[key] = value;
}

void SafetensorsWriter::write(const std::string& name, const void* data, size_t nbytes) {
  Impl& w = *impl_;
  w.check_usable();
  try {
    if (!w.header_written) w.write_header();
    w.seek(name);
    const Declared& t = w.tensors[w.current];
    if (nbytes > t.nbytes - w.current_done)
      throw_error(SQ_ERR_STATE, w.where(), ": tensor '", name, "': writing ", nbytes, " more bytes after ",
                  w.current_done, " would exceed its declared ", t.nbytes, " bytes");
    w.append(data, nbytes);
    w.current_done += nbytes;
  } catch (...) {
    w.failed = true;  // the file's bytes no longer match any consistent state
    throw;
  }
}

void SafetensorsWriter::write_f32(const std::string& name, const float* data, size_t count) {
  Impl& w = *impl_;
  w.check_usable();
  const auto it = std::find_if(w.tensors.begin(), w.tensors.end(), [&](const Declared& t) { return t.name == name; });
  if (it == w.tensors.end()) throw_error(SQ_ERR_STATE, w.where(), ": tensor '", name, "' was never declared");
  if (!dtype_is_float(it->dtype))
    throw_error(SQ_ERR_INVALID_ARGUMENT, w.where(), ": tensor '", name, "' is declared ", dtype_name(it->dtype),
                "; write_f32 needs F32, F16 or BF16");
  const size_t esize = dtype_size(it->dtype);
  if (it->dtype == SQ_DTYPE_F32) {
    write(name, data, count * esize);
    return;
  }
  if (count == 0) write(name, data, 0);
  std::vector<char> converted(std::min(count, kConvertElems) * esize);
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(count - done, kConvertElems);
    convert_from_f32(it->dtype, data + done, converted.data(), n);
    write(name, converted.data(), n * esize);
    done += n;
  }
}

void SafetensorsWriter::finish() {
  Impl& w = *impl_;
  w.check_usable();
  try {
    if (!w.header_written) w.write_header();
    for (size_t i = w.current; i < w.tensors.size(); ++i) {
      const uint64_t done = i == w.current ? w.current_done : 0;
      if (done != w.tensors[i].nbytes)
        throw_error(SQ_ERR_STATE, w.where(), ": tensor '", w.tensors[i].name, "' has ", done, " of its declared ",
                    w.tensors[i].nbytes, " bytes at finish()");
    }
    w.flush();
    fsync_checked(w.fd.get(), w.tmp);
    w.fd.close_checked(w.tmp);
    if (::rename(w.tmp.c_str(), w.path.c_str()) != 0)
      throw_error(SQ_ERR_IO, w.where(), ": cannot rename '", w.tmp, "' into place: ", std::strerror(errno));
  } catch (...) {
    w.failed = true;
    throw;
  }
  w.finished = true;
  fsync_parent_dir(w.path);
}

}  // namespace sq
