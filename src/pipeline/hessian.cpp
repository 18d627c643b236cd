#include "pipeline/hessian.hpp"

#include "util/error.hpp"

namespace sq {

HessianAccumulator::HessianAccumulator(int64_t features)
    : features_(features), h_(size_t(features) * size_t(features), 0.0f) {
  if (features <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "Hessian: feature count must be positive, got ", features);
}

void HessianAccumulator::add(Backend& be, const float* x, int64_t tokens, int64_t sequences) {
  if (sequences <= 0 || tokens <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "Hessian: a batch needs tokens and sequences, got ", tokens, " and ",
                sequences);
  const double n = double(sequences_), t = double(sequences);
  const float beta = float(n / (n + t));
  const float alpha = float(2.0 / (n + t));
  be.syrk_ata(features_, tokens, alpha, x, features_, beta, h_.data(), features_);
  sequences_ += sequences;
}

}  // namespace sq
