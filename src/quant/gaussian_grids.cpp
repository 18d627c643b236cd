#include "quant/gaussian_grids.hpp"

#include <cmath>
#include <string>

#include "util/error.hpp"

namespace sq {
namespace {

struct GaussianGridData {
  int p;
  int n;
  const float* points;
  double mse;
};

#include "quant/gaussian_grids_data.inc"

}  // namespace

double GaussianGrid::bits_per_weight() const { return std::log2(double(n)) / double(p); }

const std::vector<GaussianGrid>& gaussian_grids() {
  static const std::vector<GaussianGrid> grids = [] {
    std::vector<GaussianGrid> g;
    for (const auto& d : kGaussianGridTable) {
      GaussianGrid grid;
      grid.p = d.p;
      grid.n = d.n;
      grid.points = d.points;
      grid.mse = d.mse;
      g.push_back(grid);
    }
    return g;
  }();
  return grids;
}

const GaussianGrid& gaussian_grid(int p, int n) {
  std::string available;
  for (const auto& g : gaussian_grids()) {
    if (g.p == p && g.n == n) return g;
    available += cat(available.empty() ? "" : ", ", "(", g.p, ", ", g.n, ")");
  }
  throw_error(SQ_ERR_UNSUPPORTED, "Gaussian grid: no grid with dimension p=", p, " and n=", n,
              " points; available (p, n): ", available);
}

}  // namespace sq
