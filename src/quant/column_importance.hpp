// LeanQuant's importance of each input column for loss-aware grid fitting: s_j = v_j^(-p) where v_j
// measures how costly an error in input j is to undo (small v = the sweep cannot compensate it).
//   CholeskyDiagonal: v_j = U_jj^2 (U = upper Cholesky factor of H^-1, in sweep order). The public
//     LeanQuant code uses U_jj for diag(H^-1)^(1/2); it is the inverse Hessian of the columns not yet
//     quantized, which is what the sweep actually faces. We use s_j = U_jj^(-p), as that code does.
//   InverseDiagonal: v_j = diag(H^-1)_j, the paper's formula (s_j = diag(H^-1)_j^(-p)); order-independent.
// Both are normalized so max s_j = 1: only ratios matter to a weighted fit, and U_jj^-4 overflows fp32
// for well-conditioned inputs otherwise.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

enum class ImportanceKind { None, CholeskyDiagonal, InverseDiagonal };

ImportanceKind parse_importance_kind(const std::string& name);  // "none", "cholesky", "inverse-diag"
const char* importance_kind_name(ImportanceKind kind);

// u: n x n upper Cholesky factor of H^-1 (H^-1 = U^T U). Empty for ImportanceKind::None.
std::vector<float> column_importance(const float* u, int64_t n, ImportanceKind kind, double exponent);

}  // namespace sq
