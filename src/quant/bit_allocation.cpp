#include "quant/bit_allocation.hpp"

#include <cmath>
#include <limits>
#include <numeric>

#include "util/error.hpp"

namespace sq {
namespace {

const std::vector<BitOption>& options_of(const BitAllocationProblem& p, size_t layer) {
  return p.options.size() == 1 ? p.options[0] : p.options[layer];
}

void validate(const BitAllocationProblem& p) {
  const size_t L = p.alphas.size();
  if (p.numel.size() != L)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: ", L, " alphas but ", p.numel.size(), " numel entries");
  if (p.options.size() != 1 && p.options.size() != L)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: options must be one shared list or one list per layer (",
                L, "); got ", p.options.size());
  if (!(p.budget_bits >= 0) || !std::isfinite(p.budget_bits))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: budget must be finite and >= 0; got ", p.budget_bits);
  if (p.max_units < 1 || p.max_units > (int64_t(1) << 26))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: max_units must be in [1, 2^26]; got ", p.max_units);
  for (size_t l = 0; l < L; ++l) {
    if (!(p.alphas[l] >= 0) || !std::isfinite(p.alphas[l]))
      throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: alpha of layer ", l, " must be finite and >= 0; got ",
                  p.alphas[l]);
    if (p.numel[l] <= 0)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: numel of layer ", l, " must be > 0; got ", p.numel[l]);
    const auto& opts = options_of(p, l);
    if (opts.empty() || opts.size() > 255)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: layer ", l, " needs 1..255 options; got ", opts.size());
    for (size_t j = 0; j < opts.size(); ++j)
      if (!(opts[j].bits_per_weight >= 0) || !std::isfinite(opts[j].bits_per_weight) || !std::isfinite(opts[j].mse))
        throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: option ", j, " of layer ", l,
                    " needs finite bits >= 0 and a finite mse");
  }
}

}  // namespace

BitAllocation allocate_bits(const BitAllocationProblem& p) {
  validate(p);
  const size_t L = p.alphas.size();
  BitAllocation out;
  if (L == 0) return out;

  // Costs in bits, and whether they are all integers (exact mode).
  std::vector<std::vector<double>> cost(L);
  bool integral = true;
  int64_t g = 0;
  for (size_t l = 0; l < L; ++l)
    for (const auto& o : options_of(p, l)) {
      const double c = double(p.numel[l]) * o.bits_per_weight;
      cost[l].push_back(c);
      const double rc = std::round(c);
      if (c >= 9.0e15 || std::abs(c - rc) > 1e-6) integral = false;
      else g = std::gcd(g, int64_t(rc));
    }
  int64_t budget_units = 0;
  std::vector<std::vector<int64_t>> units(L);
  if (integral && g > 0 && std::floor(p.budget_bits / double(g)) <= double(p.max_units)) {
    out.exact = true;
    budget_units = int64_t(std::floor(p.budget_bits / double(g)));
    for (size_t l = 0; l < L; ++l)
      for (double c : cost[l]) units[l].push_back(int64_t(std::round(c)) / g);
  } else if (integral && g == 0) {  // every option costs nothing
    out.exact = true;
    for (size_t l = 0; l < L; ++l) units[l].assign(cost[l].size(), 0);
  } else {
    budget_units = p.max_units;
    const double per_unit = double(p.max_units) / p.budget_bits;
    for (size_t l = 0; l < L; ++l)
      for (double c : cost[l]) {
        const double u = c == 0 ? 0.0 : std::ceil(c * per_unit);  // per_unit is inf for a zero budget
        units[l].push_back(u > double(budget_units) ? budget_units + 1 : int64_t(u));
      }
  }

  // best[b]: the least objective of the layers so far using at most b units. pick[l][b]: layer l's option.
  const double inf = std::numeric_limits<double>::infinity();
  const size_t B = size_t(budget_units) + 1;
  std::vector<double> best(B, 0.0), next(B);
  std::vector<std::vector<uint8_t>> pick(L, std::vector<uint8_t>(B, 0));
  for (size_t l = 0; l < L; ++l) {
    const auto& opts = options_of(p, l);
    std::fill(next.begin(), next.end(), inf);
    for (size_t j = 0; j < opts.size(); ++j) {
      const int64_t u = units[l][j];
      if (u > budget_units) continue;
      const double add = p.alphas[l] * opts[j].mse;
      for (size_t b = size_t(u); b < B; ++b) {
        const double v = best[b - size_t(u)] + add;
        if (v < next[b]) {
          next[b] = v;
          pick[l][b] = uint8_t(j);
        }
      }
    }
    best.swap(next);
  }
  if (!(best[B - 1] < inf)) {
    double cheapest = 0;
    for (size_t l = 0; l < L; ++l) {
      double m = inf;
      for (double c : cost[l]) m = std::min(m, c);
      cheapest += m;
    }
    throw_error(SQ_ERR_INVALID_ARGUMENT, "bit allocation: budget of ", p.budget_bits,
                " bits is below the cheapest assignment (", cheapest, " bits",
                out.exact ? "" : ", after rounding costs up to the budget resolution; raise max_units", ")");
  }
  out.choice.assign(L, 0);
  size_t b = B - 1;
  for (size_t l = L; l-- > 0;) {
    const int j = pick[l][b];
    out.choice[l] = j;
    b -= size_t(units[l][size_t(j)]);
    out.objective += p.alphas[l] * options_of(p, l)[size_t(j)].mse;
    out.total_bits += cost[l][size_t(j)];
  }
  if (out.total_bits > p.budget_bits * (1 + 1e-12))
    throw_error(SQ_ERR_INTERNAL, "bit allocation: chosen total ", out.total_bits, " bits exceeds the budget ",
                p.budget_bits);
  return out;
}

}  // namespace sq
