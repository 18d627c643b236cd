#include "quant/layer_quantizer.hpp"

#include <cmath>
#include <vector>

#include "quant/chunked_grids.hpp"
#include "quant/grid_gaussian.hpp"
#include "quant/claq_columns.hpp"
#include "quant/solver_claq_device.hpp"
#include "quant/grid_column_kmeans.hpp"
#include "quant/grids.hpp"
#include "quant/group_schedule.hpp"
#include "quant/solver_gptq.hpp"
#include "quant/solver_gptq_device.hpp"
#include "quant/solver_quantease.hpp"
#include "quant/solver_rtn.hpp"
#include "quant/transform_hadamard.hpp"
#include "quant/transform_act_order.hpp"
#include "util/error.hpp"

namespace sq {

namespace {

void require_finite(const float* a, int64_t rows, int64_t cols, const char* name) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float v = a[r * cols + c];
      if (!std::isfinite(v))
        throw_error(SQ_ERR_NUMERIC, name, "[", r, ", ", c, "] is ", std::isnan(v) ? "NaN" : "infinite", " (", name,
                    " is ", rows, " x ", cols, "); quantization needs finite inputs");
    }
}

// Dead inputs (never active in calibration, H_jj == 0) get a unit diagonal so H stays invertible; their
// weights are zeroed before the sweep (they cannot affect the output).
std::vector<bool> fix_dead_inputs(std::vector<float>& h, int64_t n) {
  std::vector<bool> dead(size_t(n), false);
  for (int64_t j = 0; j < n; ++j) {
    float& d = h[size_t(j * n + j)];
    if (d < 0.0f)
      throw_error(SQ_ERR_NUMERIC, "H[", j, ", ", j, "] = ", d, " is negative: H is not a Hessian (X^T X) of this layer");
    if (d == 0.0f) {
      dead[size_t(j)] = true;
      d = 1.0f;
    }
  }
  return dead;
}

void zero_dead_columns(std::vector<float>& work, int64_t rows, int64_t cols, const std::vector<bool>& dead) {
  for (int64_t j = 0; j < cols && !dead.empty(); ++j)
    if (dead[size_t(j)])
      for (int64_t r = 0; r < rows; ++r) work[size_t(r * cols + j)] = 0.0f;
}

void permute_work_columns(Backend& backend, std::vector<float>& work, int64_t rows, int64_t cols,
                          const std::vector<int32_t>& perm) {
  if (perm.empty()) return;
  backend.parallel_for(rows, [&](int64_t b, int64_t e) {
    std::vector<float> scratch(static_cast<size_t>(cols));
    permute_columns_inplace(work.data(), cols, b, e, perm, scratch.data());
  });
}

// CLAQ: bit widths and reservations are decided per column on the original W, then the GPTQ sweep fits
// each column's k-means levels on its error-updated values (column_grid.hpp).
void solve_with_column_grid(Backend& backend, const float* w, std::vector<float>& work, int64_t rows, int64_t cols,
                            const float* u, const std::vector<bool>& dead, const std::vector<int32_t>& perm,
                            const QuantizeOptions& opts, uint8_t* codes, QuantizedLayer& out, const Logger& log) {
  const ClaqColumnPlan plan = plan_claq_columns(w, rows, cols, claq_column_options(opts));
  std::vector<uint8_t> bits(static_cast<size_t>(cols));
  std::vector<int32_t> reserve(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) {
    const size_t original = size_t(perm.empty() ? i : perm[size_t(i)]);
    bits[size_t(i)] = plan.bits[original];
    reserve[size_t(i)] = plan.reserve_per_side[original];
  }
  ColumnKMeansGrid grid(rows, std::move(bits), std::move(reserve));
  zero_dead_columns(work, rows, cols, dead);
  permute_work_columns(backend, work, rows, cols, perm);
  // One column is little work (rows x block_size multiply-adds) and the sweep starts one parallel_for per
  // column, so the row chunks are large: one per thread, and no fewer than 256 rows each.
  // On a device backend the sweep stays on the device when the budget holds the layer (solver_claq_device.hpp).
  if (claq_sweep_fits_device(backend, grid, rows, cols, opts.block_size)) {
    claq_sweep_on_device(*backend.device(), work.data(), rows, cols, u, grid, codes, opts.block_size);
  } else {
    const int64_t threads = std::max(1, backend.threads());
    const int64_t chunk_rows = std::max<int64_t>(256, (rows + threads - 1) / threads);
    gptq_sweep_columns(backend, work.data(), rows, cols, u, grid, codes, opts.block_size, chunk_rows);
  }
  grid.store(out, perm);
  log.debug("claq ", rows, " x ", cols, ": average code bits ", mean_column_bits(plan.bits), ", ",
            out.outliers.col.size(), " reserved outliers");
}

}  // namespace

std::unique_ptr<Grid> make_grid(GridChoice choice, int bits, bool sym, ScaleStorage storage) {
  switch (choice) {
    case GridChoice::LossAwareAffine: return make_loss_aware_affine_grid(bits, sym, storage);
    case GridChoice::LutKMeans: return make_lut_kmeans_grid(bits);
    case GridChoice::Gaussian: return std::make_unique<HiggsScalarGrid>(1 << bits, storage);  // p = 1 in a sweep
    case GridChoice::ColumnKMeans:
      throw_error(SQ_ERR_INVALID_ARGUMENT, "grid 'column-kmeans' is fitted per column inside the sweep (method 'claq'), "
                  "not a per-row grid");
    case GridChoice::Auto:
    case GridChoice::MinMaxAffine: break;
  }
  return make_minmax_affine_grid(bits, sym, storage);
}

double layer_objective(Backend& backend, const float* w, const float* q, int64_t rows, int64_t cols, const float* h) {
  // D = W - Q in row blocks; sum(D .* (D H)) = tr(D H D^T). Blocks bound the scratch memory.
  const int64_t block_rows = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(1) << 22) / std::max<int64_t>(1, cols)));
  std::vector<float> d(size_t(block_rows * cols)), dh;
  if (h) dh.resize(d.size());
  double total = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
    const int64_t n = std::min(block_rows, rows - r0);
    for (int64_t i = 0; i < n * cols; ++i) d[size_t(i)] = w[r0 * cols + i] - q[r0 * cols + i];
    if (!h) {
      for (int64_t i = 0; i < n * cols; ++i) total += double(d[size_t(i)]) * d[size_t(i)];
      continue;
    }
    backend.gemm(false, false, n, cols, cols, 1.0f, d.data(), cols, h, cols, 0.0f, dh.data(), cols);
    for (int64_t i = 0; i < n * cols; ++i) total += double(d[size_t(i)]) * dh[size_t(i)];
  }
  return total;
}

QuantizedLayer quantize_layer(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                              const QuantizeOptions& opts, const Logger& log) {
  validate(opts);
  if (w == nullptr) throw_error(SQ_ERR_INVALID_ARGUMENT, "quantize_layer: W must not be NULL");
  if (rows < 1 || cols < 1) throw_error(SQ_ERR_INVALID_ARGUMENT, "W must have at least one row and one column; got ", rows, " x ", cols);
  const MethodPlan plan = resolve_method(opts);
  if (plan.transform == TransformKind::Hadamard) {
    require_finite(w, rows, cols, "W");
    if (h) require_finite(h, cols, cols, "H");
    return quantize_layer_hadamard(backend, w, rows, cols, h, opts, plan, log);
  }
  return quantize_layer_planned(backend, w, rows, cols, h, opts, plan, log);
}

QuantizedLayer quantize_layer_planned(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                      const QuantizeOptions& opts, const MethodPlan& plan, const Logger& log) {
  const bool needs_h = plan.solver == SolverKind::Gptq || opts.act_order || plan.importance != ImportanceKind::None;
  if (needs_h && h == nullptr)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method '", opts.method, "'",
                opts.act_order ? " with act_order" : "", plan.importance != ImportanceKind::None ? " with importance weights" : "",
                " needs the Hessian H (", cols, " x ", cols, "); pass H or use method 'rtn' without act_order");
  require_finite(w, rows, cols, "W");
  if (h) require_finite(h, cols, cols, "H");
  if (plan.solver == SolverKind::QuantEase) return quantease_quantize_layer(backend, w, rows, cols, h, opts, log);
  const bool column_grid = plan.grid == GridChoice::ColumnKMeans;

  QuantizedLayer out;
  out.rows = rows;
  out.cols = cols;
  out.bits = opts.bits;
  out.group_size = opts.group_size;
  out.sym = opts.sym;
  out.method = opts.method;

  // Transform: dead inputs, act-order permutation of H; then U = chol(H^-1) in working order.
  std::vector<bool> dead;
  std::vector<int32_t> perm;
  std::vector<float> u, importance_work, importance_orig;
  if (h) {
    std::vector<float> hw(h, h + cols * cols);
    dead = fix_dead_inputs(hw, cols);
    if (opts.act_order) {
      perm = act_order_permutation(hw.data(), cols, cols);
      std::vector<float> hp(hw.size());
      permute_symmetric(hw.data(), cols, perm, hp.data(), cols);
      hw.swap(hp);
    }
    if (plan.solver == SolverKind::Gptq || plan.importance != ImportanceKind::None) {
      DampedInverse inv = damped_inverse_cholesky(backend, hw.data(), cols, opts.damp, log);
      out.damp_used = inv.damp_used;
      u.swap(inv.u);
      importance_work = column_importance(u.data(), cols, plan.importance, opts.exponent);
      importance_orig = importance_work;
      for (size_t i = 0; i < perm.size() && !importance_work.empty(); ++i) importance_orig[size_t(perm[i])] = importance_work[i];
    }
  }
  const float* imp_work = importance_work.empty() ? nullptr : importance_work.data();
  const float* imp_orig = importance_orig.empty() ? nullptr : importance_orig.data();

  // `work` becomes the dequantized weights, in working (possibly permuted) column order.
  std::vector<float> work(w, w + rows * cols);
  std::vector<uint8_t> codes(size_t(rows * cols));
  if (column_grid) {
    solve_with_column_grid(backend, w, work, rows, cols, u.data(), dead, perm, opts, codes.data(), out, log);
  } else {
    const auto grid = make_grid(plan.grid, opts.bits, opts.sym, opts.scale_storage);
    out.grid = grid->kind();
    const GroupSchedule schedule = make_group_schedule(cols, opts.group_size, opts.static_groups, perm);
    out.n_groups = schedule.n_groups;
    ChunkedGrids grids(*grid, rows, schedule.n_groups, default_chunk_rows(rows, backend.threads()), out);

    // On a device backend the sweep stays on the device for the grids it fits and rounds as the CPU does
    // (affine, LUT and Gaussian; solver_gptq_device.hpp), when the budget holds the layer. Grids fitted before
    // such a sweep are fitted there too, by the same kernels (the host sweep would need the host's grid objects).
    DeviceSweepGrid device_grid;
    const bool device_sweep = device_sweep_grid(plan, opts, imp_work, &device_grid) &&
                              gptq_sweep_fits_device(backend, device_grid, rows, cols, schedule, opts.block_size);
    const bool fit_on_device =
        device_sweep && !schedule.fit_during_sweep &&
        fits_before_sweep_on_device(backend, device_grid, rows, cols, schedule.group_size, imp_orig);

    // Grids fitted up front see the original column order. Per-channel grids are fitted on W as given
    // (before dead inputs are zeroed), static groups after: both as in the published GPTQ code.
    if (!schedule.fit_during_sweep && schedule.group_size < 0) {
      if (fit_on_device)
        fit_groups_before_sweep_on_device(*backend.device(), w, rows, cols, -1, device_grid, imp_orig, out);
      else
        backend.parallel_for(grids.n_chunks(), [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c) grids.fit(c, 0, w + grids.chunk_begin(c) * cols, cols, cols, imp_orig);
        });
    }
    if (plan.solver == SolverKind::Gptq) zero_dead_columns(work, rows, cols, dead);
    if (!schedule.fit_during_sweep && schedule.group_size > 0) {
      if (fit_on_device)
        fit_groups_before_sweep_on_device(*backend.device(), work.data(), rows, cols, schedule.group_size,
                                          device_grid, imp_orig, out);
      else
        backend.parallel_for(grids.n_chunks(), [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c)
            for (int64_t g = 0; g < schedule.n_groups; ++g) {
              const int64_t c0 = g * schedule.group_size;
              grids.fit(c, g, work.data() + grids.chunk_begin(c) * cols + c0, cols,
                        std::min(schedule.group_size, cols - c0), imp_orig ? imp_orig + c0 : nullptr);
            }
        });
    }
    permute_work_columns(backend, work, rows, cols, perm);

    // Solve in working order; `work` becomes the dequantized weights.
    if (device_sweep)
      gptq_sweep_on_device(*backend.device(), work.data(), rows, cols, u.data(), schedule, device_grid, out,
                           codes.data(), opts.block_size);
    else if (plan.solver == SolverKind::Gptq)
      gptq_sweep(backend, work.data(), rows, cols, u.data(), schedule, grids, imp_work, codes.data(), opts.block_size);
    else
      rtn_round(backend, work.data(), rows, cols, schedule, grids, imp_work, codes.data());

    out.g_idx = group_index_by_original_column(schedule, perm);
  }

  // Back to the original column order.
  if (perm.empty()) {
    out.codes.swap(codes);
    out.dequant.swap(work);
  } else {
    out.codes.resize(codes.size());
    out.dequant.resize(work.size());
    backend.parallel_for(rows, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t i = 0; i < cols; ++i) {
          out.codes[size_t(r * cols + perm[size_t(i)])] = codes[size_t(r * cols + i)];
          out.dequant[size_t(r * cols + perm[size_t(i)])] = work[size_t(r * cols + i)];
        }
    });
  }
  out.perm = std::move(perm);
  if (opts.compute_objective) out.objective = layer_objective(backend, w, out.dequant.data(), rows, cols, h);
  log.debug("quantized ", rows, " x ", cols, " with ", opts.method, " (", opts.bits, "-bit, group ", opts.group_size,
            opts.act_order ? ", act-order" : "", "): objective ", out.objective, ", damp ", out.damp_used);
  return out;
}

}  // namespace sq
