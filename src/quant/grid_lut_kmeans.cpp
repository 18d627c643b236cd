#include "quant/grid_lut_kmeans.hpp"

#include <vector>

#include "backend/backend.hpp"
#include "quant/grids.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

class LutGroupGrid final : public GroupGrid {
 public:
  LutGroupGrid(int64_t rows, int levels, std::vector<float> lut)
      : rows_(rows), levels_(levels), lut_(std::move(lut)) {}

  void quantize_column(const float* w, int64_t rows, uint8_t* codes, float* values) const override {
    if (rows != rows_)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "LUT grid: column has ", rows, " rows; the grid was fitted to ", rows_);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row_levels = lut_.data() + r * levels_;
      const int code = nearest_level(row_levels, levels_, w[r]);
      codes[r] = uint8_t(code);
      values[r] = row_levels[code];
    }
  }

  void store(QuantizedLayer& out) const override { out.lut.insert(out.lut.end(), lut_.begin(), lut_.end()); }

 private:
  int64_t rows_;
  int levels_;
  std::vector<float> lut_;  // [rows, levels], each row ascending
};

class LutKMeansGrid final : public Grid {
 public:
  explicit LutKMeansGrid(const LutKMeansGridOptions& options) : options_(options) {
    if (options.bits < 1 || options.bits > 8)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "LUT k-means grid: bits must be 1..8; got ", options.bits);
  }
  GridKind kind() const override { return GridKind::Lut; }
  int bits() const override { return options_.bits; }

  std::unique_ptr<GroupGrid> fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                 const float* importance) const override {
    if (rows < 0 || ncols < 0 || ld < ncols)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "LUT grid: bad block shape rows ", rows, " cols ", ncols, " ld ", ld);
    const int levels = 1 << options_.bits;
    std::vector<float> lut(size_t(rows) * size_t(levels));
    Backend& backend = options_.backend ? *options_.backend : default_cpu_backend();
    // Rows are independent; each worker keeps one solver so its buffers are reused across rows.
    backend.parallel_for(rows, [&](int64_t begin, int64_t end) {
      KMeans1dSolver solver(options_.kmeans);
      for (int64_t r = begin; r < end; ++r) {
        const KMeans1dResult fit = solver.solve(w + r * ld, importance, ncols, levels);
        std::copy(fit.centroids.begin(), fit.centroids.end(), lut.begin() + r * levels);
      }
    });
    return std::make_unique<LutGroupGrid>(rows, levels, std::move(lut));
  }

 private:
  LutKMeansGridOptions options_;
};

}  // namespace

std::unique_ptr<Grid> make_lut_kmeans_grid(const LutKMeansGridOptions& options) {
  return std::make_unique<LutKMeansGrid>(options);
}

std::unique_ptr<Grid> make_lut_kmeans_grid(int bits) {
  LutKMeansGridOptions options;
  options.bits = bits;
  return make_lut_kmeans_grid(options);
}

}  // namespace sq
