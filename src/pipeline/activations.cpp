#include "pipeline/activations.hpp"

#include <cstring>
#include <mutex>

#include "backend/device_api.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {

ActivationStore::ActivationStore(int64_t n_samples, int64_t seq_len, int64_t hidden, DType dtype,
                                 DeviceHandle* pin_with)
    : n_(n_samples), seq_(seq_len), hidden_(hidden), dtype_(dtype), elem_(dtype_size(dtype)) {
  if (dtype != SQ_DTYPE_F32 && dtype != SQ_DTYPE_F16 && dtype != SQ_DTYPE_BF16)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "activation dtype must be F32, F16 or BF16, got ", dtype_name(dtype));
  size_ = size_t(n_ * seq_ * hidden_) * elem_;
  if (pin_with && dtype == SQ_DTYPE_F32 && size_ > 0) {
    std::lock_guard<std::mutex> lock(pin_with->mutex);
    pinned_ = static_cast<uint8_t*>(pin_with->api.allocate_pinned(size_));
    if (pinned_) pin_ = pin_with;
  }
  if (pinned_) std::memset(pinned_, 0, size_);
  else bytes_.resize(size_);
}

ActivationStore::~ActivationStore() {
  if (!pinned_) return;
  std::lock_guard<std::mutex> lock(pin_->mutex);
  pin_->api.release_pinned(pinned_);
}

void ActivationStore::get(int64_t s, float* dst) const {
  convert_to_f32(dtype_, data() + offset(s), dst, size_t(sample_floats()));
}

void ActivationStore::put(int64_t s, const float* src) {
  convert_from_f32(dtype_, src, data() + offset(s), size_t(sample_floats()));
}

float* ActivationStore::f32_sample(int64_t s) {
  return dtype_ == SQ_DTYPE_F32 ? reinterpret_cast<float*>(data() + offset(s)) : nullptr;
}

void ActivationStore::save(const std::string& path) const {
  write_file_atomic(path, std::string(reinterpret_cast<const char*>(data()), size_));
}

void ActivationStore::load(const std::string& path) {
  const std::string data = read_file(path);
  if (data.size() != size_)
    throw_error(SQ_ERR_FORMAT, "checkpoint file '", path, "': holds ", data.size(), " bytes of activations, expected ",
                size_);
  std::memcpy(this->data(), data.data(), data.size());
}

}  // namespace sq
