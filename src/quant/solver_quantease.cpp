#include "quant/solver_quantease.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "quant/chunked_grids.hpp"
#include "quant/group_schedule.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/quantease_device.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// Columns per block: the updates of a block reach the columns after it as one GEMM (the device sweep's too).
constexpr int64_t kBlock = QuantEaseOnDevice::kBlock;

// y[i] += a * x[i]: separate and branch-free so the compiler vectorizes it.
inline void add_scaled(float* __restrict y, const float* __restrict x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

bool is_relaxed(int64_t sweep, const QuantizeOptions& o) {
  return o.relax_sweeps > 0 && sweep % 3 == 1 && sweep <= o.relax_sweeps && sweep != o.sweeps - 1;
}

struct Objective {
  double solver = 0;  // tr(R S R^T)
  double layer = 0;   // tr(R H R^T) = solver - sum_j (S_jj - H_jj) ||R[:, j]||^2
};

class QuantEaseSolver {
 public:
  QuantEaseSolver(Backend& be, const float* w, int64_t rows, int64_t cols, const float* h, double damp)
      : be_(be), w_(w), rows_(rows), cols_(cols), s_(h, h + cols * cols), shift_(size_t(cols)) {
    // S = H + damp * mean(diag H) * I. A zero diagonal (an input never active in calibration) becomes 1:
    // H's row and column are then zero, so the column decouples and is simply rounded.
    double mean = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const float d = h[j * cols + j];
      if (d < 0.0f)
        throw_error(SQ_ERR_NUMERIC, "H[", j, ", ", j, "] = ", d, " is negative: H is not a Hessian (X^T X) of this layer");
      mean += d;
    }
    mean /= double(cols);
    const float add = float(damp * mean);
    for (int64_t j = 0; j < cols; ++j) {
      float& d = s_[size_t(j * cols + j)];
      d += add;
      if (!(d > 0.0f)) d = 1.0f;
      shift_[size_t(j)] = double(d) - double(h[j * cols + j]);
    }
    const size_t n = size_t(rows * cols);
    t_.assign(w, w + n);
    q_.resize(n);
    g_.resize(n);
    codes_.assign(n, 0);
  }

  const float* s() const { return s_.data(); }
  std::vector<float>& target() { return t_; }
  std::vector<float>& q() { return q_; }
  std::vector<float>& outliers() { return o_; }
  std::vector<uint8_t>& codes() { return codes_; }

  // Outliers O (dense, rows x cols) replace the target: T = W - O.
  void set_outliers(std::vector<float> o) {
    o_ = std::move(o);
    for (size_t i = 0; i < t_.size(); ++i) t_[i] = w_[i] - o_[i];
  }

  // From here on the sweeps, refreshes and the outlier steps' uploads run on the device (T and Q as they are
  // now), with the grid in `grid` ([g * rows + r] scales and zeros) over the schedule's groups.
  void move_to_device(DeviceHandle& dev, const GroupSchedule& schedule, const QuantizedLayer& grid, int bits) {
    dev_ = std::make_unique<QuantEaseOnDevice>(dev, rows_, cols_, s_.data(), grid.scales, grid.zeros,
                                               schedule.group_of, bits);
    dev_->upload_target(t_.data());
    dev_->upload_q(q_.data());
  }
  bool on_device() const { return dev_ != nullptr; }

  // Brings Q and the codes home and releases the device buffers.
  void finish() {
    if (!dev_) return;
    dev_->download_q(q_.data());
    dev_->download_codes(codes_.data());
    dev_.reset();
  }

  double largest_eigenvalue_of_s() {
    if (!dev_) return largest_eigenvalue(be_, s_.data(), cols_);
    return largest_eigenvalue([&](const float* v, float* sv) { dev_->multiply_s(v, sv); }, cols_);
  }

  // G = (T - Q) S exactly (one GEMM); the objective of the current point. On the device, G comes home only
  // when `g_home` (the outlier step reads it) and the objective is computed only when `objective` (the
  // trace); otherwise the returned objective is zero.
  Objective refresh(bool g_home, bool objective) {
    if (dev_) {
      dev_->refresh();
      if (g_home || objective) dev_->download_g(g_.data());
      if (!objective) return {};
      dev_->download_q(q_.data());
      return objective_from_g();
    }
    r_.resize(t_.size());
    be_.parallel_for(rows_, [&](int64_t b, int64_t e) {
      for (int64_t i = b * cols_; i < e * cols_; ++i) r_[size_t(i)] = t_[size_t(i)] - q_[size_t(i)];
    });
    be_.gemm(false, false, rows_, cols_, cols_, 1.0f, r_.data(), cols_, s_.data(), cols_, 0.0f, g_.data(), cols_);
    return objective ? objective_from_g() : Objective{};
  }

  // One coordinate-descent pass over all columns, rounding to the grid unless `relaxed`.
  void sweep(const GroupSchedule& schedule, const ChunkedGrids& grids, bool relaxed) {
    if (dev_) return dev_->sweep(relaxed);
    delta_.resize(size_t(rows_ * kBlock));
    for (int64_t b0 = 0; b0 < cols_; b0 += kBlock) {
      const int64_t b1 = std::min(cols_, b0 + kBlock), width = b1 - b0;
      be_.parallel_for(grids.n_chunks(), [&](int64_t chunk_begin, int64_t chunk_end) {
        for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk)
          sweep_block(chunk, b0, b1, schedule, grids, relaxed);
      });
      // The block's changes of T - Q reach the later columns of G; earlier columns are refreshed after the sweep.
      if (b1 < cols_)
        be_.gemm(false, false, rows_, cols_ - b1, width, 1.0f, delta_.data(), kBlock, s_.data() + b0 * cols_ + b1, cols_,
                 1.0f, g_.data() + b1, cols_);
    }
  }

  // One iterative-hard-thresholding step on O (G must be exact, and on the host): O <- TopK(O + eta * G); T
  // and G follow (on the device too).
  void outlier_step(double eta, int64_t keep, bool columns) {
    std::vector<float> cand(o_.size());
    be_.parallel_for(rows_, [&](int64_t b, int64_t e) {
      for (int64_t i = b * cols_; i < e * cols_; ++i) cand[size_t(i)] = o_[size_t(i)] + float(eta) * g_[size_t(i)];
    });
    std::vector<float> next = columns ? top_columns(cand, keep) : top_entries(cand, keep);
    // G = (W - O - Q) S, so a change dO of the outliers changes G by -dO S (dO has at most 2k nonzeros).
    be_.parallel_for(rows_, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t c = 0; c < cols_; ++c) {
          const size_t i = size_t(r * cols_ + c);
          const float d = next[i] - o_[i];
          if (d == 0.0f) continue;
          t_[i] = w_[i] - next[i];
          add_scaled(g_.data() + r * cols_, s_.data() + c * cols_, -d, cols_);
        }
    });
    o_.swap(next);
    if (dev_) {
      dev_->upload_target(t_.data());
      dev_->upload_g(g_.data());
    }
  }

  Objective objective_from_g() {
    double solver = 0, shifted = 0;
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c) {
        const size_t i = size_t(r * cols_ + c);
        const double d = double(t_[i]) - double(q_[i]);
        solver += d * double(g_[i]);
        shifted += shift_[size_t(c)] * d * d;
      }
    return {solver, solver - shifted};
  }

  // The k entries of largest magnitude (ties: lowest index first); all others zero.
  std::vector<float> top_entries(const std::vector<float>& v, int64_t k) const {
    std::vector<float> out(v.size(), 0.0f);
    if (k <= 0) return out;
    std::vector<float> mags(v.size());
    for (size_t i = 0; i < v.size(); ++i) mags[i] = std::fabs(v[i]);
    std::nth_element(mags.begin(), mags.begin() + (k - 1), mags.end(), std::greater<float>());
    const float threshold = mags[size_t(k - 1)];
    int64_t taken = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (std::fabs(v[i]) > threshold) out[i] = v[i], ++taken;
    for (size_t i = 0; i < v.size() && taken < k; ++i)
      if (std::fabs(v[i]) == threshold) out[i] = v[i], ++taken;
    return out;
  }

  // The m columns of largest l2 norm (ties: lowest index first), whole; all others zero.
  std::vector<float> top_columns(const std::vector<float>& v, int64_t m) const {
    std::vector<float> out(v.size(), 0.0f);
    if (m <= 0) return out;
    std::vector<double> norm(size_t(cols_), 0.0);
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c) norm[size_t(c)] += double(v[size_t(r * cols_ + c)]) * v[size_t(r * cols_ + c)];
    std::vector<int64_t> order(static_cast<size_t>(cols_));
    std::iota(order.begin(), order.end(), int64_t(0));
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return norm[size_t(a)] > norm[size_t(b)]; });
    for (int64_t i = 0; i < std::min(m, cols_); ++i) {
      const int64_t c = order[size_t(i)];
      for (int64_t r = 0; r < rows_; ++r) out[size_t(r * cols_ + c)] = v[size_t(r * cols_ + c)];
    }
    return out;
  }

 private:
  // Columns [b0, b1) for the rows of one chunk. G[:, j] is exact when column j is reached: earlier blocks
  // arrived by GEMM, earlier columns of this block by the rank-1 updates below.
  void sweep_block(int64_t chunk, int64_t b0, int64_t b1, const GroupSchedule& schedule, const ChunkedGrids& grids,
                   bool relaxed) {
    const int64_t r0 = grids.chunk_begin(chunk), n = grids.chunk_end(chunk) - r0;
    std::vector<float> target(static_cast<size_t>(n)), values(static_cast<size_t>(n));
    std::vector<uint8_t> codes(static_cast<size_t>(n));
    for (int64_t j = b0; j < b1; ++j) {
      const float sjj = s_[size_t(j * cols_ + j)];
      for (int64_t k = 0; k < n; ++k) {
        const size_t i = size_t((r0 + k) * cols_ + j);
        target[size_t(k)] = q_[i] + g_[i] / sjj;  // the column's one-dimensional optimum
      }
      if (relaxed)
        values = target;
      else
        grids.at(chunk, schedule.group_of[size_t(j)]).quantize_column(target.data(), n, codes.data(), values.data());
      const float* s_row = s_.data() + j * cols_;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t r = r0 + k;
        const size_t i = size_t(r * cols_ + j);
        const float change = q_[i] - values[size_t(k)];  // change of (T - Q)[r, j]
        q_[i] = values[size_t(k)];
        if (!relaxed) codes_[i] = codes[size_t(k)];
        delta_[size_t(r * kBlock + (j - b0))] = change;
        if (change != 0.0f) add_scaled(g_.data() + r * cols_ + j + 1, s_row + j + 1, change, b1 - j - 1);
      }
    }
  }

  Backend& be_;
  const float* w_;
  int64_t rows_, cols_;
  std::vector<float> s_;       // damped S, cols x cols
  std::vector<double> shift_;  // S_jj - H_jj
  std::vector<float> t_, q_, g_, r_, o_;  // target W - O, Q, G = (T - Q) S, scratch, dense outliers O
  std::vector<uint8_t> codes_;
  std::vector<float> delta_;   // rows x kBlock: the current block's changes of T - Q
  std::unique_ptr<QuantEaseOnDevice> dev_;  // set: T, Q, G and the codes live there (host copies on demand)
};

SparseOutliers to_csr(const std::vector<float>& o, int64_t rows, int64_t cols) {
  SparseOutliers csr;
  csr.row_ptr.assign(size_t(rows + 1), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = o[size_t(r * cols + c)];
      if (v == 0.0f) continue;
      csr.col.push_back(int32_t(c));
      csr.val.push_back(v);
    }
    csr.row_ptr[size_t(r + 1)] = int64_t(csr.col.size());
  }
  if (csr.col.empty()) csr.row_ptr.clear();
  return csr;
}

}  // namespace

double largest_eigenvalue(Backend& backend, const float* s, int64_t n) {
  return largest_eigenvalue(
      [&](const float* v, float* sv) { backend.gemm(false, false, n, 1, n, 1.0f, s, n, v, 1, 0.0f, sv, 1); }, n);
}

double largest_eigenvalue(const std::function<void(const float* v, float* sv)>& multiply, int64_t n) {
  // A fixed, non-constant start vector: deterministic, and not orthogonal to the top eigenvector in practice.
  std::vector<float> v(static_cast<size_t>(n)), sv(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = 1.0f + 0.5f * float((i * 7919) % 97) / 97.0f;
  auto normalize = [&](std::vector<float>& x) {
    double nn = 0;
    for (float a : x) nn += double(a) * a;
    const double norm = std::sqrt(nn);
    if (norm > 0)
      for (float& a : x) a = float(a / norm);
    return norm;
  };
  normalize(v);
  double estimate = 0;
  for (int it = 0; it < 300; ++it) {
    multiply(v.data(), sv.data());
    const double norm = normalize(sv);  // ||S v|| for unit v: at most lambda_max, converging to it
    if (norm == 0) return 0;
    v.swap(sv);
    const bool converged = std::fabs(norm - estimate) <= 1e-7 * norm;
    estimate = norm;
    if (converged) break;
  }
  return estimate;
}

QuantizedLayer quantease_quantize_layer(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                        const QuantizeOptions& opts, const Logger& log, QuantEaseDiagnostics* diag) {
  validate(opts);
  if (h == nullptr)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method 'quantease' needs the Hessian H (", cols, " x ", cols,
                "); pass H or use method 'rtn'");
  const auto start = std::chrono::steady_clock::now();
  QuantEaseSolver solver(backend, w, rows, cols, h, opts.damp);

  // Initial outliers: the largest weights themselves (so the grid below is fitted without them).
  const bool with_outliers = opts.outlier_fraction > 0;
  const bool by_columns = opts.outlier_structure == "columns";
  const int64_t keep = !with_outliers ? 0
                       : by_columns   ? int64_t(std::llround(double(cols) * opts.outlier_fraction))
                                      : int64_t(std::llround(double(rows) * double(cols) * opts.outlier_fraction));
  if (with_outliers) solver.set_outliers(by_columns ? solver.top_columns(solver.target(), keep)
                                                    : solver.top_entries(solver.target(), keep));

  QuantizedLayer out;
  out.rows = rows;
  out.cols = cols;
  out.bits = opts.bits;
  out.group_size = opts.group_size;
  out.sym = opts.sym;
  out.method = opts.method;
  out.damp_used = opts.damp;
  const auto grid = make_grid(GridChoice::MinMaxAffine, opts.bits, opts.sym, opts.scale_storage);
  out.grid = grid->kind();

  // The grid is fitted once, on the original weights less the initial outliers, per row and group.
  const GroupSchedule schedule = make_group_schedule(cols, opts.group_size, /*static_groups=*/true, {});
  out.n_groups = schedule.n_groups;
  ChunkedGrids grids(*grid, rows, schedule.n_groups, default_chunk_rows(rows, backend.threads()), out);
  const float* fit_source = solver.target().data();
  backend.parallel_for(grids.n_chunks(), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      for (int64_t g = 0; g < schedule.n_groups; ++g) {
        const int64_t c0 = schedule.group_size > 0 ? schedule.first_column(g) : 0;
        grids.fit(c, g, fit_source + grids.chunk_begin(c) * cols + c0, cols, schedule.width(g, cols), nullptr);
      }
  });

  // Starting point: the target itself, or GPTQ's result on it (static groups: GPTQ then fits the same grid).
  if (opts.init == "gptq") {
    QuantizeOptions g = opts;
    g.method = "gptq";
    g.static_groups = opts.group_size > 0;
    g.compute_objective = false;
    solver.q() = quantize_layer(backend, solver.target().data(), rows, cols, h, g, log).dequant;
  } else {
    solver.q() = solver.target();
  }

  // The sweeps move to the device when it holds S and the layer's matrices; the host then sees G only for the
  // outlier steps and Q only for the objective trace.
  if (QuantEaseOnDevice::fits(backend, rows, cols, schedule.n_groups))
    solver.move_to_device(*backend.device(), schedule, out, opts.bits);
  const bool trace = diag != nullptr;
  Objective obj = solver.refresh(with_outliers, trace);
  double eta = 0;
  if (with_outliers) {
    const double lambda = solver.largest_eigenvalue_of_s();
    eta = lambda > 0 ? 1.0 / (2.0 * lambda) : 0.0;
    if (diag) diag->lambda_max = lambda;
  }
  if (diag) {
    diag->objective.clear();
    diag->solver_objective.clear();
    diag->relaxed.clear();
    diag->initial_solver_objective = obj.solver;
    if (!with_outliers) diag->lambda_max = 0;
  }
  for (int64_t sweep = 0; sweep < opts.sweeps; ++sweep) {
    const bool relaxed = is_relaxed(sweep, opts);
    solver.sweep(schedule, grids, relaxed);
    obj = solver.refresh(with_outliers, trace);
    if (with_outliers && keep > 0) {
      solver.outlier_step(eta, keep, by_columns);
      if (trace) obj = solver.objective_from_g();
    }
    if (diag) {
      diag->objective.push_back(obj.layer);
      diag->solver_objective.push_back(obj.solver);
      diag->relaxed.push_back(relaxed);
    }
  }

  // Result: grid values plus outliers, as decode computes them (value + outlier only where one is stored).
  const bool swept_on_device = solver.on_device();
  solver.finish();
  out.codes.swap(solver.codes());
  out.dequant.swap(solver.q());
  const std::vector<float>& o = solver.outliers();
  if (!o.empty())
    for (size_t i = 0; i < out.dequant.size(); ++i)
      if (o[i] != 0.0f) out.dequant[i] += o[i];
  if (!o.empty()) out.outliers = to_csr(o, rows, cols);
  out.g_idx = group_index_by_original_column(schedule, {});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (diag) {
    diag->outliers = int64_t(out.outliers.col.size());
    diag->seconds = seconds;
  }
  if (opts.compute_objective) out.objective = layer_objective(backend, w, out.dequant.data(), rows, cols, h);
  log.debug("quantized ", rows, " x ", cols, " with quantease (", opts.bits, "-bit, group ", opts.group_size, ", ",
            opts.sweeps, " sweeps, init ", opts.init, ", ", out.outliers.col.size(), " outliers",
            swept_on_device ? ", on the device" : "", ") in ", seconds,
            " s: objective ", out.objective);
  return out;
}

}  // namespace sq
