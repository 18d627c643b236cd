#include "quant/higgs_layer.hpp"

#include <atomic>
#include <cmath>

#include "quant/gaussian_grids.hpp"
#include "quant/hadamard.hpp"
#include "quant/parallel_rows.hpp"
#include "util/error.hpp"

namespace sq {

GaussianGridId higgs_grid_for_bits(int bits, int grid_dim) {
  if (grid_dim != 1 && grid_dim != 2)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "HIGGS grid_dim must be 1 or 2; got ", grid_dim);
  if (bits < 1 || bits * grid_dim > 8)
    throw_error(SQ_ERR_UNSUPPORTED, "HIGGS: ", bits, " bits per weight in dimension ", grid_dim,
                " needs 2^", bits * grid_dim, " grid points; codes are at most 8 bits (grid_dim 2 allows bits <= 4)");
  const GaussianGridId id{grid_dim, 1 << (bits * grid_dim)};
  (void)gaussian_grid(id.p, id.n);  // throws naming the shipped (p, n) pairs
  return id;
}

double higgs_bits_per_weight(const GaussianGridId& grid, int64_t group_size, int scale_bits) {
  if (group_size <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "higgs_bits_per_weight: group_size must be > 0; got ", group_size);
  return std::log2(double(grid.n)) / double(grid.p) + double(scale_bits) / double(group_size);
}

int64_t gaussian_padded_cols(const QuantizedLayer& l) { return l.rotation.size > 0 ? l.rotation.cols_padded : l.cols; }

QuantizedLayer to_quantized_layer(HiggsLayer&& h, const std::string& method) {
  const HiggsOptions& o = h.options;
  QuantizedLayer l;
  l.rows = h.rows;
  l.cols = h.cols;
  l.bits = int(std::lround(std::log2(double(o.n))));
  l.group_size = o.group_size;
  l.n_groups = h.n_groups;
  l.grid = GridKind::Gaussian;
  l.grid_dim = o.p;
  l.grid_points = o.n;
  l.rotation = {o.hadamard_size, o.random_signs, o.seed, h.cols_padded};
  l.codes = std::move(h.codes);
  l.scales = std::move(h.scales);
  l.dequant = std::move(h.dequant);
  l.method = method;
  return l;
}

std::vector<float> gaussian_layer_weights(const QuantizedLayer& l, int threads) {
  const GaussianGrid& grid = gaussian_grid(l.grid_dim, l.grid_points);
  const int p = l.grid_dim;
  const int64_t padded = gaussian_padded_cols(l);
  const HadamardRotation& rot = l.rotation;
  if (rot.size > 0 && (!is_hadamard_size(rot.size) || padded % rot.size != 0))
    throw_error(SQ_ERR_FORMAT, "Gaussian layer: rotation size ", rot.size, " is not a power of two dividing the ",
                padded, " rotated columns");
  if (padded < l.cols || padded % p != 0 || l.group_size <= 0 || l.group_size % p != 0 ||
      l.n_groups * l.group_size != padded)
    throw_error(SQ_ERR_FORMAT, "Gaussian layer: ", padded, " rotated columns (", l.cols, " stored) do not split into ",
                l.n_groups, " groups of ", l.group_size, " holding ", p, "-vectors");
  if (int64_t(l.codes.size()) != l.rows * (padded / p) || int64_t(l.scales.size()) != l.rows * l.n_groups)
    throw_error(SQ_ERR_FORMAT, "Gaussian layer: ", l.codes.size(), " codes and ", l.scales.size(), " scales for ",
                l.rows, " rows of ", padded / p, " vectors in ", l.n_groups, " groups");
  const std::vector<float> signs = rot.size > 0 && rot.random_signs ? hadamard_signs(padded, rot.seed) : std::vector<float>();
  std::vector<float> out(size_t(l.rows * l.cols));
  std::atomic<bool> bad_code{false};
  parallel_rows(l.rows, threads, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(static_cast<size_t>(padded));
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* codes = l.codes.data() + r * (padded / p);
      for (int64_t v = 0; v < padded / p; ++v) {
        if (codes[v] >= grid.n) {
          bad_code = true;  // reported after the join: body must not throw
          continue;
        }
        const float scale = l.scales[size_t((v * p / l.group_size) * l.rows + r)];
        for (int k = 0; k < p; ++k) buf[size_t(v * p + k)] = scale * grid.points[codes[v] * p + k];
      }
      // One row at a time, as higgs_dequantize does, so both give the same bits.
      if (rot.size > 0)
        hadamard_unrotate_rows(buf.data(), 1, padded, padded, rot.size, signs.empty() ? nullptr : signs.data(),
                               HadamardScale::Orthonormal, 1);
      std::copy(buf.begin(), buf.begin() + l.cols, out.begin() + r * l.cols);
    }
  }, /*min_rows_per_thread=*/16);
  if (bad_code)
    throw_error(SQ_ERR_FORMAT, "Gaussian layer: a code is outside the ", grid.n, " points of grid (p=", p, ", n=",
                grid.n, ")");
  return out;
}

}  // namespace sq
