#include "quant/column_importance.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace sq {

ImportanceKind parse_importance_kind(const std::string& name) {
  if (name == "none") return ImportanceKind::None;
  if (name == "cholesky") return ImportanceKind::CholeskyDiagonal;
  if (name == "inverse-diag") return ImportanceKind::InverseDiagonal;
  throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'importance' must be \"none\", \"cholesky\" or \"inverse-diag\"; got \"",
              name, "\"");
}

const char* importance_kind_name(ImportanceKind kind) {
  switch (kind) {
    case ImportanceKind::None: return "none";
    case ImportanceKind::CholeskyDiagonal: return "cholesky";
    case ImportanceKind::InverseDiagonal: return "inverse-diag";
  }
  return "?";
}

std::vector<float> column_importance(const float* u, int64_t n, ImportanceKind kind, double exponent) {
  if (kind == ImportanceKind::None) return {};
  std::vector<double> v(size_t(n), 0.0);
  if (kind == ImportanceKind::CholeskyDiagonal) {
    for (int64_t j = 0; j < n; ++j) v[size_t(j)] = double(u[j * n + j]) * double(u[j * n + j]);
  } else {
    // diag(U^T U)_j = sum_{k <= j} U_kj^2, accumulated row by row for contiguous access.
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = k; j < n; ++j) v[size_t(j)] += double(u[k * n + j]) * double(u[k * n + j]);
  }
  // s = U_jj^-p = v^(-p/2) for CholeskyDiagonal, v^-p for InverseDiagonal; in the log domain so that
  // large exponents cannot overflow before normalization.
  const double power = kind == ImportanceKind::CholeskyDiagonal ? exponent / 2 : exponent;
  std::vector<double> log_s(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) log_s[size_t(j)] = -power * std::log(std::max(v[size_t(j)], 1e-300));
  const double top = *std::max_element(log_s.begin(), log_s.end());
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) s[size_t(j)] = float(std::exp(log_s[size_t(j)] - top));
  return s;
}

}  // namespace sq
