// The portable loss-aware search (kernels/portable/loss_aware_affine.hpp), sorted and direct-sum regimes, run by
// host teams, against the CPU grid (affine_search::fit_row): the same scale and zero bit for bit. The CUDA kernel runs
// this source with one thread block per row, so what is checked here is the device's arithmetic and its phase
// structure: teams running each phase's items forwards or backwards must agree, which they would not if an item
// read what another item of its phase writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "host_team.hpp"
#include "portable/loss_aware_affine.hpp"
#include "quant/grid_loss_aware_affine.hpp"
#include "quant/scale_storage.hpp"
#include "util/half.hpp"

namespace {

using sqtest::HostTeam;

struct Fitted {
  float scale, zero;
};

// The device's scale rounding: fp16 to nearest even, inf above the range (for the caller to report), 2^-24 for
// a positive scale that would round to 0.
float device_stored_scale(float scale, bool f16) {
  if (!f16) return scale;
  const float s = sq::half_to_float(sq::float_to_half(scale));
  return s == 0.0f && scale > 0.0f ? sq::half_to_float(uint16_t(1)) : s;
}

Fitted team_fit(HostTeam team, const std::vector<float>& w, const float* s, const sq::LossAwareAffineOptions& o) {
  const bool f16 = o.scale_storage == sq::ScaleStorage::F16;
  const int64_t n = int64_t(w.size());
  // NaN-filled scratch: a phase reading what it never wrote would poison the result.
  std::vector<double> scratch(size_t(sq::loss_aware::team_fit_bytes(n, o.bits, o.shrink_steps, o.sym) / 8),
                              std::nan(""));
  Fitted out{-1.0f, -1.0f};
  sq::loss_aware::team_fit(team, w.data(), s, n, o.bits, o.sym, o.shrink_steps, o.min_factor,
                           [f16](float x) { return device_stored_scale(x, f16); }, scratch.data(), &out.scale,
                           &out.zero);
  return out;
}

uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// One row, both teams, against fit_row; returns whether the search left min-max (so the tests know they
// exercised the candidates, not only the unshrunk grid).
bool expect_same_fit(const std::vector<float>& w, const std::vector<float>& s, const sq::LossAwareAffineOptions& o,
                     const char* what) {
  const sq::affine_search::Params cpu = sq::affine_search::fit_row(w.data(), s.empty() ? nullptr : s.data(),
                                                                   int64_t(w.size()), o);
  for (const bool backwards : {false, true}) {
    const Fitted dev = team_fit(HostTeam{1024, backwards}, w, s.empty() ? nullptr : s.data(), o);
    EXPECT_EQ(bits_of(dev.scale), bits_of(cpu.scale))
        << what << ": scale " << dev.scale << " vs " << cpu.scale << " (n " << w.size() << ", bits " << o.bits
        << ", sym " << o.sym << ", backwards " << backwards << ")";
    EXPECT_EQ(bits_of(dev.zero), bits_of(cpu.zero)) << what << ": zero " << dev.zero << " vs " << cpu.zero;
  }
  float lo = 0.0f, hi = 0.0f;
  for (float x : w) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  const auto mm = sq::affine_search::from_range(lo, hi, o.bits, o.sym, o.scale_storage);
  return mm.scale != cpu.scale || mm.zero != cpu.zero;
}

}  // namespace

TEST(LossAwareTeamFit, SameGridAsTheCpuOnRandomRows) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.1f, 3.0f);
  int searched = 0, rows = 0;
  for (const int bits : {2, 3, 4, 8})  // 8 bits: every width below 8192 sums directly
    for (const int64_t n : {int64_t(32) << bits, int64_t(100), int64_t(300), int64_t(1000), int64_t(2048)}) {
      if (n > 2048) continue;
      for (const bool sym : {false, true})
        for (const bool weighted : {false, true})
          for (const auto storage : {sq::ScaleStorage::F16, sq::ScaleStorage::F32}) {
            sq::LossAwareAffineOptions o;
            o.bits = bits;
            o.sym = sym;
            o.scale_storage = storage;
            std::vector<float> w(static_cast<size_t>(n)), s;
            for (auto& x : w) x = 0.02f * normal(rng);
            if (weighted)
              for (int64_t i = 0; i < n; ++i) s.push_back(uniform(rng));
            searched += expect_same_fit(w, s, o, "random row");
            ++rows;
          }
    }
  // Most rows of Gaussian weights shrink their range: the candidates, not only min-max, were compared.
  EXPECT_GT(searched, rows / 2);
}

TEST(LossAwareTeamFit, DirectLossIsTheCpuRankingLossBitForBit) {
  // Terms of magnitudes 2^-40..2^40, so that any other order of the double additions changes the sum's bits
  // (the grids rarely flip on it, so the loss itself is compared).
  std::mt19937 rng(14);
  std::normal_distribution<float> normal;
  int order_sensitive = 0;
  for (const int64_t n : {int64_t(1), int64_t(7), int64_t(256), int64_t(301), int64_t(4099)})
    for (const bool weighted : {false, true}) {
      std::vector<float> w(static_cast<size_t>(n)), s;
      for (auto& x : w) x = std::ldexp(normal(rng), int(rng() % 21) - 10);
      if (weighted)
        for (int64_t i = 0; i < n; ++i) s.push_back(std::ldexp(1.0f, int(rng() % 41) - 20));
      const float* sp = weighted ? s.data() : nullptr;
      const sq::affine_search::Params p = sq::affine_search::from_range(-0.5f, 0.7f, 3, false, sq::ScaleStorage::F32);
      const double cpu = sq::affine_search::direct_ranking_loss(w.data(), sp, n, p, 3);
      const double team = sq::loss_aware::direct_row_loss(w.data(), sp, n, {p.scale, p.zero}, 7.0f);
      EXPECT_EQ(team, cpu) << "n " << n << " weighted " << weighted;
      order_sensitive += sq::loss_aware::direct_loss(w.data(), sp, n, {p.scale, p.zero}, 7.0f) != cpu;  // one double sum
    }
  EXPECT_GT(order_sensitive, 0) << "the rows do not tell the two sums apart";
}

TEST(LossAwareTeamFit, SameGridOnTiesSignedZerosAndDegenerateRows) {
  // 2 bits over 160 values: the sorted regime; 4 bits over 300: direct sums over a row wider than a warp's.
  for (const auto& [bits, n] : {std::pair<int, int64_t>{2, 160}, {4, 300}}) {
    std::mt19937 rng(12);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> uniform(0.0f, 2.0f);
    sq::LossAwareAffineOptions o;
    o.bits = bits;
    // Few distinct values, repeated with weights of very different magnitudes, so the prefix sums round and the
    // order ties are added in (by index, on both sides) matters to the bits.
    std::vector<float> w(static_cast<size_t>(n)), s(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      w[size_t(i)] = 0.01f * float(int(rng() % 9) - 4);
      s[size_t(i)] = std::ldexp(0.5f + 0.5f * uniform(rng), int(rng() % 41) - 20);
    }
    expect_same_fit(w, s, o, "ties");
    for (int64_t i = 0; i < n; i += 3) w[size_t(i)] = (i % 2) ? 0.0f : -0.0f;  // signed zeros among them
    expect_same_fit(w, s, o, "signed zeros");
    o.sym = true;
    expect_same_fit(w, s, o, "signed zeros, sym");
    o.sym = false;
    for (auto& x : w) x = std::fabs(x);  // no negative values: lo is +0
    expect_same_fit(w, s, o, "non-negative");
    for (auto& x : w) x = -x;  // no positive values: hi is +0
    expect_same_fit(w, s, o, "non-positive");
    std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    expect_same_fit(zeros, s, o, "all zero");
    std::vector<float> constant(static_cast<size_t>(n), 0.25f);
    expect_same_fit(constant, {}, o, "constant");
    std::vector<float> spike(static_cast<size_t>(n), 0.0f);
    spike[17] = -3.0f;
    expect_same_fit(spike, s, o, "one value");
    for (auto& x : w) x = 1e-3f * normal(rng);
    for (size_t i = 0; i < s.size(); i += 2) s[i] = 0.0f;  // zero importance on half the row
    expect_same_fit(w, s, o, "zero weights");
    for (const int steps : {1, 2, 7}) {  // one factor only (no candidates), two, and an odd spacing
      o.shrink_steps = steps;
      o.min_factor = 0.3f;
      expect_same_fit(w, s, o, "shrink steps");
    }
  }
}

TEST(LossAwareTeamFit, SortsTiesByIndexAndSumsInThatOrder) {
  // The CPU sorts by (value, index) and adds the prefix sums in that order (its radix sort is stable, and -0
  // ties with +0); the team program must leave the same order in its scratch.
  std::mt19937 rng(13);
  const int64_t n = 200;
  std::vector<float> w(static_cast<size_t>(n)), s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    w[size_t(i)] = i % 7 == 0 ? (i % 2 ? 0.0f : -0.0f) : 0.125f * float(int(rng() % 5) - 2);
    s[size_t(i)] = std::ldexp(1.0f + float(rng() % 1000) / 1000.0f, int(rng() % 41) - 20);
  }
  sq::LossAwareAffineOptions o;
  o.bits = 2;
  const int candidates = sq::loss_aware::candidate_count(o.shrink_steps, o.sym);
  for (const bool backwards : {false, true}) {
    std::vector<double> scratch(size_t(sq::loss_aware::team_fit_bytes(n, o.bits, o.shrink_steps, o.sym) / 8),
                              std::nan(""));
    float scale, zero;
    HostTeam team{1024, backwards};
    sq::loss_aware::team_fit(team, w.data(), s.data(), n, o.bits, o.sym, o.shrink_steps, o.min_factor,
                             [](float x) { return x; }, scratch.data(), &scale, &zero);
    const sq::loss_aware::SortedScratch l = sq::loss_aware::sorted_scratch(scratch.data(), n, candidates);
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[size_t(i)] = int32_t(i);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return w[size_t(a)] < w[size_t(b)]; });
    double s0 = 0.0, s1 = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(l.key_i[i], order[size_t(i)]) << "sorted position " << i << ", backwards " << backwards;
      s0 += double(s[size_t(order[size_t(i)])]);
      s1 += double(s[size_t(order[size_t(i)])]) * double(w[size_t(order[size_t(i)])]);
      EXPECT_EQ(l.s0[i + 1], s0);
      EXPECT_EQ(l.s1[i + 1], s1);
    }
  }
}

TEST(LossAwareTeamFit, NonFiniteValueGivesANanScale) {
  std::vector<float> w(256, 0.5f);
  w[100] = INFINITY;
  sq::LossAwareAffineOptions o;
  o.bits = 2;
  o.scale_storage = sq::ScaleStorage::F32;
  EXPECT_TRUE(std::isnan(team_fit(HostTeam{}, w, nullptr, o).scale));
  w[100] = NAN;
  EXPECT_TRUE(std::isnan(team_fit(HostTeam{1024, true}, w, nullptr, o).scale));
}

TEST(LossAwareTeamFit, ScaleOverTheFp16RangeBecomesInfinite) {
  std::vector<float> w(256, 0.0f);
  w[3] = 3e6f;  // scale 1e6 at 2 bits: the CPU throws, the device leaves inf for the caller
  sq::LossAwareAffineOptions o;
  o.bits = 2;
  EXPECT_TRUE(std::isinf(team_fit(HostTeam{}, w, nullptr, o).scale));
}
