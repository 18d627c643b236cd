// Dynamic bit allocation across layers (HIGGS linearity theorem): the perplexity increase is about
// sum_l alpha_l * t_l, t_l the relative MSE of layer l. Choose one option j_l (a grid / bit width) per layer
// to minimize sum_l alpha_l * mse_l(j_l) subject to sum_l numel_l * bits_l(j_l) <= budget: a multiple-choice
// knapsack, solved exactly by dynamic programming over a discretized budget.
//
// Discretization (the result never exceeds the true budget):
//  - Exact mode: when every cost numel_l * bits_l(j) is an integer (below 2^53) and budget / G <= max_units,
//    G = gcd of all costs, the costs are measured in units of G bits and the budget is floor(budget / G)
//    units. Nothing is rounded: the DP returns the true optimum.
//  - Rounded mode otherwise: unit u = budget / max_units; each cost is rounded UP to ceil(cost / u) units and
//    the budget is max_units units. Since every rounded cost >= its true cost, any assignment feasible in
//    units is feasible in bits. The price is at most L units of budget left unused (L = layers), i.e. a
//    relative slack below L / max_units.
// The total is re-checked in true bits before returning.
#pragma once
#include <cstdint>
#include <vector>

namespace sq {

struct BitOption {
  double bits_per_weight = 0.0;  // including any scale overhead
  double mse = 0.0;              // relative MSE the option causes (for HIGGS: the grid's MSE on N(0, 1))
};

struct BitAllocationProblem {
  std::vector<double> alphas;   // per layer, >= 0
  std::vector<int64_t> numel;   // per layer, > 0
  // Options per layer; a single list is shared by every layer. At most 255 options per layer.
  std::vector<std::vector<BitOption>> options;
  double budget_bits = 0.0;     // total bits allowed for all layers
  int64_t max_units = int64_t(1) << 16;  // budget resolution; DP time and memory ~ layers * max_units
};

struct BitAllocation {
  std::vector<int> choice;   // option index per layer
  double objective = 0.0;    // sum alpha_l * mse_l(choice_l)
  double total_bits = 0.0;   // sum numel_l * bits_l(choice_l) <= budget_bits
  bool exact = false;        // true: exact mode (optimum over the undiscretized problem)
};

// Throws SQ_ERR_INVALID_ARGUMENT on malformed input or when even the cheapest choice exceeds the budget.
BitAllocation allocate_bits(const BitAllocationProblem& problem);

}  // namespace sq
