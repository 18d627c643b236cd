#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/bit_allocation.hpp"
#include "util/error.hpp"

namespace {

struct Brute {
  double objective = std::numeric_limits<double>::infinity();
  bool feasible = false;
};

// Try every assignment.
Brute brute_force(const sq::BitAllocationProblem& p) {
  const size_t L = p.alphas.size();
  auto opts = [&](size_t l) -> const std::vector<sq::BitOption>& { return p.options.size() == 1 ? p.options[0] : p.options[l]; };
  Brute best;
  std::vector<size_t> idx(L, 0);
  while (true) {
    double bits = 0, obj = 0;
    for (size_t l = 0; l < L; ++l) {
      bits += double(p.numel[l]) * opts(l)[idx[l]].bits_per_weight;
      obj += p.alphas[l] * opts(l)[idx[l]].mse;
    }
    if (bits <= p.budget_bits && obj < best.objective) best = {obj, true};
    size_t l = 0;
    while (l < L && ++idx[l] == opts(l).size()) idx[l++] = 0;
    if (l == L) break;
  }
  return best;
}

sq::BitAllocationProblem random_problem(std::mt19937& gen, bool per_layer_options, bool fractional_bits) {
  std::uniform_int_distribution<int> layers(3, 6), nopt(3, 4), numel(1, 40);
  std::uniform_real_distribution<double> alpha(0.0, 5.0), unit(0.0, 1.0);
  sq::BitAllocationProblem p;
  const int L = layers(gen);
  auto make_options = [&] {
    std::vector<sq::BitOption> o;
    const int J = nopt(gen);
    for (int j = 0; j < J; ++j) {
      const double bits = fractional_bits ? 1.0 + 7.0 * unit(gen) : double(1 + j + int(3 * unit(gen)));
      o.push_back({bits, std::exp2(-2.0 * bits) * (0.5 + unit(gen))});
    }
    return o;
  };
  for (int l = 0; l < L; ++l) {
    p.alphas.push_back(alpha(gen));
    p.numel.push_back(int64_t(numel(gen)) * 64);
    if (per_layer_options) p.options.push_back(make_options());
  }
  if (!per_layer_options) p.options.push_back(make_options());
  // A budget between the cheapest and the dearest assignment.
  double lo = 0, hi = 0;
  for (int l = 0; l < L; ++l) {
    const auto& o = p.options.size() == 1 ? p.options[0] : p.options[size_t(l)];
    double mn = 1e300, mx = 0;
    for (const auto& x : o) mn = std::min(mn, x.bits_per_weight), mx = std::max(mx, x.bits_per_weight);
    lo += mn * double(p.numel[size_t(l)]);
    hi += mx * double(p.numel[size_t(l)]);
  }
  p.budget_bits = std::floor(lo + (hi - lo) * unit(gen));
  return p;
}

void check_solution(const sq::BitAllocationProblem& p, const sq::BitAllocation& a) {
  ASSERT_EQ(a.choice.size(), p.alphas.size());
  double bits = 0, obj = 0;
  for (size_t l = 0; l < a.choice.size(); ++l) {
    const auto& o = (p.options.size() == 1 ? p.options[0] : p.options[l])[size_t(a.choice[l])];
    bits += double(p.numel[l]) * o.bits_per_weight;
    obj += p.alphas[l] * o.mse;
  }
  EXPECT_LE(bits, p.budget_bits);
  EXPECT_NEAR(bits, a.total_bits, 1e-9 * bits);
  EXPECT_NEAR(obj, a.objective, 1e-12 * std::max(1.0, obj));
}

// Integer costs: exact mode, the DP must equal the brute-force optimum.
TEST(BitAllocation, ExactOptimumOnSmallKnapsacks) {
  std::mt19937 gen(2024);
  for (int trial = 0; trial < 300; ++trial) {
    const auto p = random_problem(gen, trial % 2 == 0, false);
    const Brute ref = brute_force(p);
    ASSERT_TRUE(ref.feasible);
    const sq::BitAllocation a = sq::allocate_bits(p);
    EXPECT_TRUE(a.exact) << "trial " << trial;
    check_solution(p, a);
    EXPECT_NEAR(a.objective, ref.objective, 1e-12 * std::max(1.0, ref.objective)) << "trial " << trial;
  }
}

// Fractional bits force the rounded mode: never over budget, and at the optimum of the problem whose
// budget is reduced by the worst-case rounding slack (layers units).
TEST(BitAllocation, RoundedModeNeverExceedsBudgetAndIsNearOptimal) {
  std::mt19937 gen(77);
  for (int trial = 0; trial < 200; ++trial) {
    auto p = random_problem(gen, trial % 2 == 1, true);
    p.max_units = 1000;
    const Brute ref = brute_force(p);
    ASSERT_TRUE(ref.feasible);
    sq::BitAllocation a;
    try {
      a = sq::allocate_bits(p);
    } catch (const sq::Error&) {
      // Rounding up may make a barely feasible budget infeasible; that must only happen near the edge.
      auto tight = p;
      tight.budget_bits = p.budget_bits * (1.0 - double(p.alphas.size()) / double(p.max_units));
      EXPECT_FALSE(brute_force(tight).feasible) << "trial " << trial;
      continue;
    }
    EXPECT_FALSE(a.exact);
    check_solution(p, a);
    EXPECT_GE(a.objective, ref.objective - 1e-12);
    auto tight = p;
    tight.budget_bits = p.budget_bits * (1.0 - double(p.alphas.size()) / double(p.max_units));
    const Brute slack = brute_force(tight);
    if (slack.feasible) {
      EXPECT_LE(a.objective, slack.objective + 1e-12) << "trial " << trial;
    }
  }
}

TEST(BitAllocation, RejectsInfeasibleAndMalformedProblems) {
  sq::BitAllocationProblem p;
  p.alphas = {1.0, 2.0};
  p.numel = {100, 100};
  p.options = {{{2.0, 0.1}, {4.0, 0.01}}};
  p.budget_bits = 399;  // cheapest is 400
  EXPECT_THROW(sq::allocate_bits(p), sq::Error);
  p.budget_bits = 600;  // one layer can take 4 bits: the one with the larger alpha
  const auto a = sq::allocate_bits(p);
  EXPECT_EQ(a.choice, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(a.total_bits, 600.0);
  p.numel = {100};
  EXPECT_THROW(sq::allocate_bits(p), sq::Error);
}

}  // namespace
