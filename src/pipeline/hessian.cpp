#include "pipeline/hessian.hpp"

#include <utility>

#include "util/error.hpp"

namespace sq {

HessianAccumulator::HessianAccumulator(int64_t features)
    : features_(features), h_(size_t(features) * size_t(features), 0.0f) {
  if (features <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "Hessian: feature count must be positive, got ", features);
}

HessianAccumulator::HessianAccumulator(int64_t features, int64_t sequences, std::vector<float> matrix)
    : features_(features), sequences_(sequences), h_(std::move(matrix)) {
  if (features <= 0 || h_.size() != size_t(features) * size_t(features))
    throw_error(SQ_ERR_INTERNAL, "Hessian: ", h_.size(), " values for ", features, " features");
}

HessianStep hessian_step(int64_t seen, int64_t batch) {
  const double n = double(seen), t = double(batch);
  return {float(2.0 / (n + t)), float(n / (n + t))};
}

void HessianAccumulator::add(Backend& be, const float* x, int64_t tokens, int64_t sequences) {
  if (sequences <= 0 || tokens <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "Hessian: a batch needs tokens and sequences, got ", tokens, " and ",
                sequences);
  const HessianStep step = hessian_step(sequences_, sequences);
  be.syrk_ata(features_, tokens, step.alpha, x, features_, step.beta, h_.data(), features_);
  sequences_ += sequences;
}

}  // namespace sq
