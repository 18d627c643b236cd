#include "quant/grid_gaussian.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "portable/gaussian_scalar.hpp"
#include "quant/hadamard.hpp"
#include "quant/parallel_rows.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

HiggsOptions resolve(const HiggsOptions& in) {
  HiggsOptions o = in;
  if (o.p != 1 && o.p != 2) throw_error(SQ_ERR_UNSUPPORTED, "HIGGS option p: must be 1 or 2; got ", o.p);
  if (o.n < 2 || o.n > 256)
    throw_error(SQ_ERR_UNSUPPORTED, "HIGGS option n: grid points must be in [2, 256] (uint8 codes); got ", o.n);
  (void)gaussian_grid(o.p, o.n);  // throws naming the grids that exist
  if (!is_hadamard_size(o.hadamard_size) || o.hadamard_size < 2)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "HIGGS option hadamard_size: must be a power of two >= 2; got ",
                o.hadamard_size);
  if (o.group_size == -1) o.group_size = o.hadamard_size;
  if (o.group_size <= 0 || o.hadamard_size % o.group_size != 0 || o.group_size % o.p != 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "HIGGS option group_size: must divide hadamard_size (",
                o.hadamard_size, ") and be a multiple of p (", o.p, "); got ", o.group_size);
  return o;
}

// Rebuild one row in the original basis from its codes and scales; `buf` holds cols_padded floats.
void dequantize_row(const HiggsLayer& q, const GaussianGrid& grid, const float* signs, int64_t r, float* buf) {
  const HiggsOptions& o = q.options;
  const int64_t vecs = q.cols_padded / o.p;
  const uint8_t* codes = q.codes.data() + r * vecs;
  for (int64_t v = 0; v < vecs; ++v) {
    const float scale = q.scales[size_t((v * o.p / o.group_size) * q.rows + r)];
    for (int k = 0; k < o.p; ++k) buf[v * o.p + k] = scale * grid.points[codes[v] * o.p + k];
  }
  hadamard_unrotate_rows(buf, 1, q.cols_padded, q.cols_padded, o.hadamard_size, signs,
                         HadamardScale::Orthonormal, 1);
}

// The code is the number of boundaries below x (ties at a boundary go to the lower level).
inline uint8_t nearest_scalar(const std::vector<float>& mid, float x) {
  return uint8_t(scalar_grid_code(mid.data(), int(mid.size()), x));
}

// Nearest point of a p = 2 grid: maximize 2<x, g> - ||g||^2 (= ||x||^2 - ||x - g||^2).
// An exhaustive search costs n score evaluations per pair (256 at 4 bits), so the square [-kRange, kRange]^2
// is cut into kCells^2 cells and each cell keeps the few points that can be nearest to some x inside it:
// with m the cell's center, r its half diagonal and d* the distance from m to its nearest point, the nearest
// point c of any x in the cell has |m - c| <= |m - x| + |x - c| <= r + (r + d*). Pairs outside the square
// (rare for N(0, 1) entries) use the exhaustive search. Both paths evaluate the same float expression over
// candidates in ascending index order, so the result equals the exhaustive search (ties: lowest index).
class PairNearest {
 public:
  explicit PairNearest(const GaussianGrid& grid) : n_(grid.n) {
    for (int c = 0; c < n_; ++c) {
      const float a = grid.points[2 * c], b = grid.points[2 * c + 1];
      gx_.push_back(2.0f * a);
      gy_.push_back(2.0f * b);
      gn_.push_back(a * a + b * b);
    }
    const double side = 2.0 * kRange / kCells, r = side * std::sqrt(0.5);
    start_.push_back(0);
    for (int i = 0; i < kCells; ++i)
      for (int j = 0; j < kCells; ++j) {
        const double m0 = -kRange + (i + 0.5) * side, m1 = -kRange + (j + 0.5) * side;
        double dmin = 1e300;
        for (int c = 0; c < n_; ++c) dmin = std::min(dmin, dist(grid, c, m0, m1));
        const double reach = dmin + 2 * r + 1e-3;  // margin for float rounding in the scores
        for (int c = 0; c < n_; ++c)
          if (dist(grid, c, m0, m1) <= reach) cand_.push_back(uint8_t(c));
        start_.push_back(uint32_t(cand_.size()));
      }
  }

  uint8_t nearest(float x0, float x1) const {
    const float scale = float(kCells / (2.0 * kRange));
    const float fi = (x0 + float(kRange)) * scale, fj = (x1 + float(kRange)) * scale;
    if (fi >= 0 && fi < float(kCells) && fj >= 0 && fj < float(kCells)) {
      const int cell = int(fi) * kCells + int(fj);
      const uint8_t* c = cand_.data() + start_[size_t(cell)];
      const uint8_t* end = cand_.data() + start_[size_t(cell) + 1];
      uint8_t best = *c;
      float best_score = score(best, x0, x1);
      for (++c; c < end; ++c) {
        const float sc = score(*c, x0, x1);
        if (sc > best_score) best_score = sc, best = *c;
      }
      return best;
    }
    int best = 0;
    float best_score = score(0, x0, x1);
    for (int c = 1; c < n_; ++c) {
      const float sc = score(c, x0, x1);
      if (sc > best_score) best_score = sc, best = c;
    }
    return uint8_t(best);
  }

 private:
  static constexpr int kCells = 64;
  static constexpr double kRange = 4.0;

  float score(int c, float x0, float x1) const {
    return x0 * gx_[size_t(c)] + x1 * gy_[size_t(c)] - gn_[size_t(c)];
  }
  static double dist(const GaussianGrid& g, int c, double m0, double m1) {
    return std::hypot(double(g.points[2 * c]) - m0, double(g.points[2 * c + 1]) - m1);
  }

  int n_;
  std::vector<float> gx_, gy_, gn_;
  std::vector<uint32_t> start_;  // candidates of cell k: cand_[start_[k] .. start_[k + 1])
  std::vector<uint8_t> cand_;
};

}  // namespace

std::vector<float> midpoints(const GaussianGrid& grid) {
  std::vector<float> mid(static_cast<size_t>(grid.n - 1));
  for (int c = 0; c + 1 < grid.n; ++c) mid[size_t(c)] = 0.5f * (grid.points[c] + grid.points[c + 1]);
  return mid;
}

void gaussian_grid_nearest(const GaussianGrid& grid, const float* x, int64_t count, uint8_t* codes) {
  if (grid.p == 1) {
    const std::vector<float> mid = midpoints(grid);
    for (int64_t i = 0; i < count; ++i) codes[i] = nearest_scalar(mid, x[i]);
    return;
  }
  if (grid.p != 2) throw_error(SQ_ERR_UNSUPPORTED, "gaussian_grid_nearest: p must be 1 or 2; got ", grid.p);
  const PairNearest index(grid);
  for (int64_t i = 0; i < count; ++i) codes[i] = index.nearest(x[2 * i], x[2 * i + 1]);
}

HiggsLayer higgs_quantize(const float* w, int64_t rows, int64_t cols, int64_t ld, const HiggsOptions& opt) {
  HiggsLayer q;
  q.options = resolve(opt);
  const HiggsOptions& o = q.options;
  if (!w || rows < 0 || cols <= 0 || ld < cols)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "higgs_quantize: bad weight matrix rows=", rows, " cols=", cols, " ld=", ld);
  const GaussianGrid& grid = gaussian_grid(o.p, o.n);
  const int64_t h = o.hadamard_size;
  q.rows = rows;
  q.cols = cols;
  q.cols_padded = (cols + h - 1) / h * h;
  q.n_groups = q.cols_padded / o.group_size;
  const int64_t vecs = q.cols_padded / o.p;
  q.codes.assign(size_t(rows * vecs), 0);
  q.scales.assign(size_t(q.n_groups * rows), 0.0f);
  const std::vector<float> signs = o.random_signs ? hadamard_signs(q.cols_padded, o.seed) : std::vector<float>();
  const float* sp = signs.empty() ? nullptr : signs.data();

  std::atomic<int64_t> bad_row{-1};
  const std::unique_ptr<PairNearest> pairs = o.p == 2 ? std::make_unique<PairNearest>(grid) : nullptr;
  parallel_rows(rows, o.threads, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(size_t(q.cols_padded));
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = w + r * ld;
      std::fill(std::copy(row, row + cols, buf.begin()), buf.end(), 0.0f);
      hadamard_rotate_rows(buf.data(), 1, q.cols_padded, q.cols_padded, h, sp, HadamardScale::Orthonormal, 1);
      // Norms of the rotated row equal those of the original (R is orthogonal), so the block norm can be
      // taken after rotating.
      for (int64_t b = 0; b < q.cols_padded; b += h) {
        double block_ss = 0;
        for (int64_t j = b; j < b + h; ++j) block_ss += double(buf[size_t(j)]) * buf[size_t(j)];
        if (!std::isfinite(block_ss)) bad_row = r;
        for (int64_t g0 = b; g0 < b + h; g0 += o.group_size) {
          double ss = block_ss, len = double(h);
          if (o.group_norms) {
            ss = 0;
            for (int64_t j = g0; j < g0 + o.group_size; ++j) ss += double(buf[size_t(j)]) * buf[size_t(j)];
            len = double(o.group_size);
          }
          const float scale = float(std::sqrt(ss / len));
          q.scales[size_t((g0 / o.group_size) * rows + r)] = scale;
          const float inv = scale > 0 && std::isfinite(scale) ? 1.0f / scale : 0.0f;
          for (int64_t j = g0; j < g0 + o.group_size; ++j) buf[size_t(j)] *= inv;
        }
      }
      uint8_t* codes = q.codes.data() + r * vecs;
      if (pairs) {
        for (int64_t v = 0; v < vecs; ++v) codes[v] = pairs->nearest(buf[size_t(2 * v)], buf[size_t(2 * v + 1)]);
      } else {
        gaussian_grid_nearest(grid, buf.data(), vecs, codes);
      }
    }
  });
  if (bad_row >= 0)
    throw_error(SQ_ERR_NUMERIC, "higgs_quantize: row ", bad_row.load(), " contains NaN or Inf");

  q.dequant = higgs_dequantize(q);
  double err = 0, ref = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      const double a = w[r * ld + j], d = a - q.dequant[size_t(r * cols + j)];
      err += d * d;
      ref += a * a;
    }
  q.rel_mse = ref > 0 ? err / ref : 0.0;
  return q;
}

std::vector<float> higgs_dequantize(const HiggsLayer& q) {
  const HiggsOptions o = resolve(q.options);
  const GaussianGrid& grid = gaussian_grid(o.p, o.n);
  if (q.cols_padded % o.hadamard_size != 0 || q.cols > q.cols_padded ||
      int64_t(q.codes.size()) != q.rows * (q.cols_padded / o.p) ||
      int64_t(q.scales.size()) != q.rows * (q.cols_padded / o.group_size))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "higgs_dequantize: codes (", q.codes.size(), ") or scales (",
                q.scales.size(), ") do not match rows=", q.rows, " cols_padded=", q.cols_padded);
  const std::vector<float> signs = o.random_signs ? hadamard_signs(q.cols_padded, o.seed) : std::vector<float>();
  std::vector<float> out(size_t(q.rows * q.cols));
  parallel_rows(q.rows, o.threads, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(size_t(q.cols_padded));
    for (int64_t r = r0; r < r1; ++r) {
      dequantize_row(q, grid, signs.empty() ? nullptr : signs.data(), r, buf.data());
      std::copy(buf.begin(), buf.begin() + q.cols, out.begin() + r * q.cols);
    }
  });
  return out;
}

std::vector<BitOption> higgs_bit_options(const std::vector<GaussianGrid>& grids, int64_t group_size,
                                         int scale_bits) {
  if (group_size <= 0 || scale_bits < 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "higgs_bit_options: group_size must be > 0 and scale_bits >= 0; got ",
                group_size, " and ", scale_bits);
  std::vector<BitOption> out;
  for (const auto& g : grids) out.push_back({g.bits_per_weight() + double(scale_bits) / double(group_size), g.mse});
  return out;
}

// ---- HIGGS scalar grid for the GPTQ sweep ------------------------------------------------------------------

namespace {

class HiggsScalarGroup : public GroupGrid {
 public:
  HiggsScalarGroup(const GaussianGrid& grid, std::vector<float> scales)
      : grid_(grid), mid_(midpoints(grid)), scales_(std::move(scales)) {}

  void quantize_column(const float* w, int64_t rows, uint8_t* codes, float* values) const override {
    for (int64_t r = 0; r < rows; ++r) {
      const float s = scales_[size_t(r)];
      const float x = s > 0 ? w[r] / s : 0.0f;
      codes[r] = nearest_scalar(mid_, x);
      values[r] = s * grid_.points[codes[r]];
    }
  }

  void store(QuantizedLayer& out) const override { out.scales.insert(out.scales.end(), scales_.begin(), scales_.end()); }

 private:
  const GaussianGrid& grid_;
  std::vector<float> mid_;
  std::vector<float> scales_;
};

}  // namespace

HiggsScalarGrid::HiggsScalarGrid(int n, ScaleStorage storage) : grid_(&gaussian_grid(1, n)), storage_(storage) {
  if (n > 256) throw_error(SQ_ERR_UNSUPPORTED, "HIGGS scalar grid: n must be <= 256 (uint8 codes); got ", n);
}

int HiggsScalarGrid::bits() const { return int(std::lround(std::log2(double(grid_->n)))); }

std::unique_ptr<GroupGrid> HiggsScalarGrid::fit(const float* w, int64_t ld, int64_t rows, int64_t ncols,
                                                const float* /*importance: the Gaussian grid is fixed*/) const {
  if (ncols <= 0) throw_error(SQ_ERR_INVALID_ARGUMENT, "HIGGS scalar grid: group has ", ncols, " columns");
  std::vector<float> scales(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    scales[size_t(r)] = stored_scale(rms_of(w + r * ld, ncols), storage_);
  }
  return std::make_unique<HiggsScalarGroup>(*grid_, std::move(scales));
}

}  // namespace sq
