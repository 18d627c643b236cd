#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/backend.hpp"
#include "pipeline/hessian.hpp"

// The running average over sequences must equal (2/N) X^T X over all tokens at once.
TEST(Hessian, RunningAverageMatchesDirectProduct) {
  const int64_t features = 24, tokens = 17, seqs = 5;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  std::vector<float> x(size_t(seqs * tokens * features));
  for (auto& v : x) v = dist(rng);

  sq::HessianAccumulator acc(features);
  auto& be = sq::default_cpu_backend();
  acc.add(be, x.data(), tokens, 1);                          // one sequence
  acc.add(be, x.data() + tokens * features, 3 * tokens, 3);  // a batch of three
  acc.add(be, x.data() + 4 * tokens * features, tokens, 1);
  EXPECT_EQ(acc.sequences(), seqs);

  const int64_t total = seqs * tokens;
  for (int64_t i = 0; i < features; ++i)
    for (int64_t j = 0; j < features; ++j) {
      double direct = 0;
      for (int64_t t = 0; t < total; ++t) direct += double(x[size_t(t * features + i)]) * x[size_t(t * features + j)];
      direct *= 2.0 / double(seqs);
      EXPECT_NEAR(acc.matrix()[size_t(i * features + j)], direct, 1e-4 * (1.0 + std::fabs(direct)))
          << "at (" << i << ", " << j << ")";
    }
}

TEST(Hessian, RejectsEmptyBatch) {
  sq::HessianAccumulator acc(4);
  std::vector<float> x(4, 1.0f);
  EXPECT_ANY_THROW(acc.add(sq::default_cpu_backend(), x.data(), 0, 1));
}
