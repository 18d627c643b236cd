// Running Hessian of a linear layer's inputs, H = (2/N) sum_n X_n^T X_n over N calibration sequences,
// kept as a correct running average so it can be accumulated one sequence (or batch) at a time:
//   H <- H * n/(n+t) + (2/(n+t)) X^T X        (n sequences so far, t in this batch)
// fp32, via Backend::syrk_ata. For a fixed backend and thread count the result is deterministic.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"

namespace sq {

// One step of that running average, for `batch` sequences after `seen`: H <- beta H + alpha X^T X.
struct HessianStep {
  float alpha, beta;
};
HessianStep hessian_step(int64_t seen, int64_t batch);

class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t features);
  // A Hessian accumulated elsewhere (on a device: device_hessian.hpp) over `sequences` sequences.
  HessianAccumulator(int64_t features, int64_t sequences, std::vector<float> matrix);
  // x: [tokens, features] row-major, the inputs of `sequences` calibration sequences.
  void add(Backend& be, const float* x, int64_t tokens, int64_t sequences = 1);
  int64_t features() const { return features_; }
  int64_t sequences() const { return sequences_; }
  const std::vector<float>& matrix() const { return h_; }  // [features, features]
  std::vector<float>& matrix() { return h_; }

 private:
  int64_t features_;
  int64_t sequences_ = 0;
  std::vector<float> h_;
};

}  // namespace sq
