// HIGGS's rotations (quant/hadamard.hpp, orthonormal) on a device backend's device: the matrix is uploaded
// once, rotated there by the FWHT kernel and downloaded, with the same bits as the host functions. Each returns
// false, having done nothing, when `be` has no device, the Hadamard block is over the kernel's limit, or the
// device budget cannot hold the matrix; the caller then rotates on the host.
#pragma once
#include <cstdint>

#include "backend/backend.hpp"

namespace sq {

// hadamard_rotate_rows(w, rows, cols, cols, block, signs, Orthonormal): row <- R row. signs: null or cols.
bool hadamard_rotate_rows_on_device(Backend& be, float* w, int64_t rows, int64_t cols, int64_t block,
                                    const float* signs);
// hadamard_rotate_hessian(h, n, block, signs): H <- R H R^T, symmetrized exactly as on the host.
bool hadamard_rotate_hessian_on_device(Backend& be, float* h, int64_t n, int64_t block, const float* signs);

}  // namespace sq
