#include "quant/transform_hadamard.hpp"

#include <cmath>
#include <vector>

#include "quant/grid_gaussian.hpp"
#include "quant/hadamard.hpp"
#include "quant/hadamard_device.hpp"
#include "quant/higgs_layer.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/scale_storage.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// Data-free HIGGS: rotation, per-group RMS scales and nearest Gaussian grid points, all in higgs_quantize.
QuantizedLayer quantize_data_free(Backend& backend, const float* w, int64_t rows, int64_t cols,
                                  const QuantizeOptions& opts, const GaussianGridId& grid) {
  HiggsOptions ho;
  ho.p = grid.p;
  ho.n = grid.n;
  ho.hadamard_size = opts.hadamard_size;
  ho.group_size = higgs_group_size(opts);
  // Per-group RMS: with group_size = h it equals the reference block norm / sqrt(h); with smaller groups
  // each stored scale carries its own information instead of repeating the block's.
  ho.group_norms = true;
  ho.random_signs = opts.random_signs;
  ho.seed = opts.rotation_seed;
  ho.threads = backend.threads();
  QuantizedLayer out = to_quantized_layer(higgs_quantize(w, rows, cols, cols, ho), opts.method);
  // Scales as a reader will see them; the codes were chosen with the exact ones (a relative change below
  // 2^-11 for fp16), and the dequantized weights are rebuilt from the stored values.
  bool changed = false;
  for (float& s : out.scales) {
    const float stored = stored_scale(s, opts.scale_storage);
    changed |= stored != s;
    s = stored;
  }
  if (changed) out.dequant = gaussian_layer_weights(out, backend.threads());
  return out;
}

// HIGGS + GPTQ: the GPTQ sweep with the scalar Gaussian grid on the rotated layer and Hessian.
QuantizedLayer quantize_rotated_sweep(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                      const QuantizeOptions& opts, const MethodPlan& plan, const GaussianGridId& grid,
                                      const Logger& log) {
  if (h == nullptr)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "method '", opts.method, "' needs the Hessian H (", cols, " x ", cols,
                "); pass H or use the data-free method 'higgs'");
  const int64_t hs = opts.hadamard_size;
  const int64_t padded = (cols + hs - 1) / hs * hs;
  const std::vector<float> signs = opts.random_signs ? hadamard_signs(padded, opts.rotation_seed) : std::vector<float>();
  const float* sp = signs.empty() ? nullptr : signs.data();

  // Padding columns are zero in W and in H (inputs that never fire); the rotation mixes them in.
  std::vector<float> wr(size_t(rows * padded), 0.0f);
  for (int64_t r = 0; r < rows; ++r) std::copy(w + r * cols, w + (r + 1) * cols, wr.begin() + r * padded);
  // On a device backend the rotations run there when the budget holds the matrix (same bits either way).
  if (!hadamard_rotate_rows_on_device(backend, wr.data(), rows, padded, hs, sp))
    hadamard_rotate_rows(wr.data(), rows, padded, padded, hs, sp, HadamardScale::Orthonormal, backend.threads());
  std::vector<float> hr(size_t(padded * padded), 0.0f);
  for (int64_t i = 0; i < cols; ++i) std::copy(h + i * cols, h + (i + 1) * cols, hr.begin() + i * padded);
  if (!hadamard_rotate_hessian_on_device(backend, hr.data(), padded, hs, sp))
    hadamard_rotate_hessian(hr.data(), padded, hs, sp, backend.threads());

  QuantizeOptions inner = opts;
  inner.group_size = higgs_group_size(opts);
  inner.compute_objective = false;  // measured below, in the original basis with the caller's H
  QuantizedLayer out = quantize_layer_planned(backend, wr.data(), rows, padded, hr.data(), inner, plan, log);
  if (out.grid != GridKind::Gaussian || out.codes.size() != size_t(rows * padded))
    throw_error(SQ_ERR_INTERNAL, "rotated GPTQ sweep returned a '", grid_kind_name(out.grid), "' layer with ",
                out.codes.size(), " codes for ", rows, " x ", padded);
  out.cols = cols;
  out.grid_dim = grid.p;
  out.grid_points = grid.n;
  out.rotation = {hs, opts.random_signs, opts.rotation_seed, padded};
  out.g_idx.clear();  // groups are contiguous in the rotated basis: group of column j = j / group_size
  out.perm.clear();
  // The sweep's values are scale * grid point, the decode formula's first half; un-rotating them with the
  // same code gives the bits a reader decodes.
  out.dequant = gaussian_layer_weights(out, backend.threads());
  return out;
}

}  // namespace

QuantizedLayer quantize_layer_hadamard(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                       const QuantizeOptions& opts, const MethodPlan& plan, const Logger& log) {
  if (plan.grid != GridChoice::Gaussian)
    throw_error(SQ_ERR_UNSUPPORTED, "method '", opts.method, "': the Hadamard transform is only implemented with the "
                "Gaussian grid");
  const GaussianGridId grid = higgs_grid_for_bits(opts.bits, plan.grid_dim);
  QuantizedLayer out;
  if (plan.solver == SolverKind::None) {
    out = quantize_data_free(backend, w, rows, cols, opts, grid);
  } else if (plan.solver == SolverKind::Gptq) {
    if (grid.p != 1)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "method '", opts.method, "': the GPTQ sweep needs grid_dim 1; got ", grid.p);
    out = quantize_rotated_sweep(backend, w, rows, cols, h, opts, plan, grid, log);
  } else {
    throw_error(SQ_ERR_UNSUPPORTED, "method '", opts.method, "': no Hadamard-rotated form of this solver");
  }
  out.method = opts.method;
  if (opts.compute_objective) out.objective = layer_objective(backend, w, out.dequant.data(), rows, cols, h);
  log.debug("quantized ", rows, " x ", cols, " with ", opts.method, " (grid p=", grid.p, " n=", grid.n, ", Hadamard ",
            opts.hadamard_size, ", group ", out.group_size, "): objective ", out.objective, ", damp ", out.damp_used);
  return out;
}

}  // namespace sq
