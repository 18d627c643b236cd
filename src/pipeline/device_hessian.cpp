#include "pipeline/device_hessian.hpp"

#include <mutex>
#include <vector>

#include "backend/device_api.hpp"
#include "util/error.hpp"

namespace sq {

DeviceHessian::DeviceHessian(DeviceHandle& dev, int64_t features)
    : dev_(dev), features_(features),
      h_(dev.memory, size_t(features > 0 ? features : 0) * size_t(features > 0 ? features : 0) * sizeof(float),
         "a Hessian (features x features)") {
  if (features <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "Hessian: feature count must be positive, got ", features);
}

void DeviceHessian::add(const float* x, int64_t tokens, int64_t sequences) {
  if (sequences <= 0 || tokens <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "Hessian: a batch needs tokens and sequences, got ", tokens, " and ",
                sequences);
  // beta is 0 for the first batch, so the uninitialized matrix is never read.
  const HessianStep step = hessian_step(sequences_, sequences);
  dev_.api.syrk_ata_upper(features_, tokens, step.alpha, x, features_, step.beta, h_.f32(), features_);
  sequences_ += sequences;
}

HessianAccumulator DeviceHessian::download() {
  if (sequences_ == 0) throw_error(SQ_ERR_STATE, "Hessian: no inputs were accumulated");
  std::vector<float> h(size_t(features_) * size_t(features_));
  const size_t row = size_t(features_) * sizeof(float);
  {
    std::lock_guard<std::mutex> lock(dev_.mutex);
    dev_.api.mirror_upper(h_.f32(), features_, features_);
    dev_.api.download(h.data(), row, h_.get(), row, row, size_t(features_));
  }
  return HessianAccumulator(features_, sequences_, std::move(h));
}

}  // namespace sq
