#include "pipeline/activations.hpp"

#include <cstring>

#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {

ActivationStore::ActivationStore(int64_t n_samples, int64_t seq_len, int64_t hidden, DType dtype)
    : n_(n_samples), seq_(seq_len), hidden_(hidden), dtype_(dtype), elem_(dtype_size(dtype)) {
  if (dtype != SQ_DTYPE_F32 && dtype != SQ_DTYPE_F16 && dtype != SQ_DTYPE_BF16)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "activation dtype must be F32, F16 or BF16, got ", dtype_name(dtype));
  bytes_.resize(size_t(n_ * seq_ * hidden_) * elem_);
}

void ActivationStore::get(int64_t s, float* dst) const {
  convert_to_f32(dtype_, bytes_.data() + size_t(s * sample_floats()) * elem_, dst, size_t(sample_floats()));
}

void ActivationStore::put(int64_t s, const float* src) {
  convert_from_f32(dtype_, src, bytes_.data() + size_t(s * sample_floats()) * elem_, size_t(sample_floats()));
}

void ActivationStore::save(const std::string& path) const {
  write_file_atomic(path, std::string(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()));
}

void ActivationStore::load(const std::string& path) {
  const std::string data = read_file(path);
  if (data.size() != bytes_.size())
    throw_error(SQ_ERR_FORMAT, "checkpoint file '", path, "': holds ", data.size(), " bytes of activations, expected ",
                bytes_.size());
  std::memcpy(bytes_.data(), data.data(), data.size());
}

}  // namespace sq
