// The device FWHT's arithmetic (kernels/portable/fwht.hpp: one radix-2 stage at a time) against the CPU's
// fused-stage fwht_inplace (quant/hadamard.cpp): the same bits for every size the device kernel takes.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "portable/fwht.hpp"
#include "quant/hadamard.hpp"

TEST(FwhtNetwork, StageByStageButterfliesEqualTheFusedCpuTransform) {
  std::mt19937 rng(31);
  std::normal_distribution<float> normal;
  for (int64_t n = 1; n <= 8192; n *= 2) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = normal(rng) * (normal(rng) > 1.5f ? 100.0f : 1.0f);  // mixed magnitudes round visibly
    std::vector<float> fused = x, staged = x;
    sq::fwht_inplace(fused.data(), n);
    for (int64_t span = 1; span < n; span *= 2)
      for (int64_t i = 0; i < n / 2; ++i) sq::fwht_butterfly(staged.data(), span, i);
    EXPECT_EQ(staged, fused) << "n " << n;
  }
}

TEST(FwhtNetwork, ADifferentStageOrderWouldNotMatch) {
  // The claim is about stage order, not only about exact arithmetic: running the spans from the largest down
  // gives the same transform mathematically but different bits, so the test above can tell them apart.
  std::mt19937 rng(32);
  std::normal_distribution<float> normal;
  std::vector<float> x(512);
  for (auto& v : x) v = normal(rng) * (normal(rng) > 1.5f ? 100.0f : 1.0f);
  std::vector<float> fused = x, reversed = x;
  sq::fwht_inplace(fused.data(), 512);
  for (int64_t span = 256; span >= 1; span /= 2)
    for (int64_t i = 0; i < 256; ++i) sq::fwht_butterfly(reversed.data(), span, i);
  EXPECT_NE(reversed, fused);
}
