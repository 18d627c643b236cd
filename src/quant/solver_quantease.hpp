// QuantEase (arXiv 2309.01885): coordinate descent on the layer objective
//   f(Q, O) = tr((W - Q - O) S (W - Q - O)^T),   S = H + damp * mean(diag H) * I,
// with Q on a fixed affine grid (min-max per row and group, fitted once on the original weights) and O an
// optional sparse set of full-precision outliers. No matrix inversion: column j of Q is set to the grid
// point nearest its one-dimensional optimum q_j + G[:, j] / S_jj, where G = (W - Q - O) S is kept up to date
// (blocks of columns, a GEMM per block), so a sweep over all columns costs about one rows x cols x cols GEMM.
//
// Sweeps 1, 4, 7, ... up to relax_sweeps (never the last) skip the rounding (the paper's relaxation, which
// lets Q leave a poor local minimum). With outliers (the paper's Algorithm 3) every sweep is followed by
// one iterative-hard-thresholding step O <- TopK(O + G / (2 lambda_max(S))): the top-k entries by magnitude
// (k = round(rows * cols * f)) or the top round(cols * f) columns by l2 norm. The grid is then fitted on
// W minus the initial outliers (the largest weights), which is what makes the grid finer.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "backend/backend.hpp"
#include "quant/quantize_options.hpp"
#include "quant/quantized_layer.hpp"
#include "util/log.hpp"

namespace sq {

struct QuantEaseDiagnostics {
  // After each sweep (and its outlier step): tr(R H R^T) with H as given, and tr(R S R^T) with the damped
  // S the sweeps minimize; R = W - Q - outliers. Without relaxation the solver objective never increases.
  std::vector<double> objective;
  std::vector<double> solver_objective;
  std::vector<bool> relaxed;      // the sweep left Q off the grid
  double initial_solver_objective = 0;  // before the first sweep
  double lambda_max = 0;          // largest eigenvalue of S (outliers only)
  int64_t outliers = 0;           // stored outlier weights
  double seconds = 0;             // wall time of the sweeps
};

// Options as quantize_layer takes them (method "quantease"); h must not be null. diag (nullable) receives
// the per-sweep trace.
QuantizedLayer quantease_quantize_layer(Backend& backend, const float* w, int64_t rows, int64_t cols, const float* h,
                                        const QuantizeOptions& opts, const Logger& log,
                                        QuantEaseDiagnostics* diag = nullptr);

// Largest eigenvalue of the symmetric PSD n x n matrix s by power iteration.
double largest_eigenvalue(Backend& backend, const float* s, int64_t n);
// The same with the product sv = S v (n values each) given as a function (S resident on a device).
double largest_eigenvalue(const std::function<void(const float* v, float* sv)>& multiply, int64_t n);

}  // namespace sq
