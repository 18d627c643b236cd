/*
 * streamquant C API: quantizing one layer from W and H (sq_quantize_layer).
 *
 * W is the layer's weight, fp32 row-major [rows = out_features, cols = in_features]. H is the Hessian of
 * its inputs, fp32 [cols, cols] (H = 2/N * X^T X over the calibration tokens), or NULL for data-free
 * methods (RTN). Options are string key/value pairs, validated when set and again when used:
 *
 *   method         "gptq" (default), "rtn", "leanquant" (per-row LUT grid), "leanquant-affine"
 *   bits           2, 3, 4 (default) or 8
 *   group_size     -1 (per-channel, default) or columns per group, e.g. 128
 *   sym            "true"/"false" (default false): symmetric grid with zero = 2^(bits-1)
 *   act_order      "true"/"false": quantize inputs by descending diag(H) (alias: desc_act)
 *   static_groups  "true"/"false": fit all groups before the sweep, on the original column order
 *   damp           relative damping of H, in [0, 1] (default 0.01; raised x10 automatically up to 1.0
 *                  when H is not positive definite; the value used is "damp_used")
 *   exponent       LeanQuant importance exponent p (default 4)
 *   importance     "auto" (the method's), "none", "cholesky" (s_j = U_jj^-p, U = chol(H^-1) upper, as
 *                  the public LeanQuant code does), "inverse-diag" (s_j = diag(H^-1)_j^-p, the paper's)
 *   grid           "auto" (the method's), "minmax", "loss-aware-affine", "lut"
 *   block_size     GPTQ lazy-update block width (default 128)
 *   objective      "true" (default)/"false": compute tr((W-Q) H (W-Q)^T) (one extra GEMM)
 *   scale_dtype    "fp16" (default)/"fp32": affine scales are rounded to fp16 before any weight is rounded
 *                  with them, so "dequant" equals what a reader decodes from an fp16 GPTQ checkpoint
 *                  ("fp32": keep full-precision scales, as the published GPTQ algorithm does until packing).
 *                  LUT levels are always fp32 ("lookup_table" is written in fp32).
 *   checkpoint_format  "gptq" (default: qzeros hold z - 1, readers add 1) or "gptq_v2" (qzeros hold z);
 *                  affects only the packed "qzeros" tensor
 *
 * The result is read by name (sq_quantized_layer_tensor_info / sq_quantized_layer_read):
 *   "codes"      U8  [rows, cols]         codes in the original column order, in [0, 2^bits)
 *   "dequant"    F32 [rows, cols]         the dequantized weight the quantizer meant
 *   "scales"     F32 [n_groups, rows]     affine grids: value = scale * (code - zero)
 *   "scales_f16" F16 [n_groups, rows]     the same scales as IEEE half (uint16 bit patterns)
 *   "zeros"      F32 [n_groups, rows]     integer zero points (GPTQ v2 convention: not minus one)
 *   "g_idx"      I32 [cols]               group of each input column
 *   "perm"       I32 [cols] or [0]        act-order: perm[i] = original column quantized at step i
 *   "lut"        F32 [n_groups * rows, 2^bits]   LUT grids: level of each code per row
 * and the packed checkpoint tensors (GPTQ bit packing, see FORMATS.md):
 *   "qweight"    I32 [cols * bits / 32, rows]   codes packed along the input dimension, LSB first
 *   "qzeros"     I32 [n_groups, rows * bits / 32]  affine grids: zero points packed along the output
 *                                               dimension, as checkpoint_format says; empty for LUT grids
 *   "lookup_table" F32 [n_groups * rows, 2^bits]  LUT grids (SqueezeLLM layout): same data as "lut"
 * A checkpoint holds qweight, qzeros, scales_f16 (as "scales"), g_idx; or qweight and lookup_table.
 * Dequant: W[n, k] = scales[g_idx[k], n] * (q[k, n] - z[g_idx[k], n]), or lookup_table[g_idx[k] * rows + n][q[k, n]].
 * qweight/qzeros need cols * bits and rows * bits to be multiples of 32, and format "gptq" cannot hold a
 * zero point 0: otherwise reading them fails with SQ_ERR_UNSUPPORTED saying why (the layer itself is fine).
 * and scalars by key: sq_quantized_layer_get_int ("rows", "cols", "bits", "group_size", "n_groups",
 * "sym", "grid": 0 affine / 1 LUT), sq_quantized_layer_get_double ("objective", "damp_used").
 */
#ifndef STREAMQUANT_SQ_LAYER_H
#define STREAMQUANT_SQ_LAYER_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_layer_options sq_layer_options;
typedef struct sq_quantized_layer sq_quantized_layer;

/** Options with their defaults (method "gptq", 4 bits, per-channel, asymmetric). */
SQ_API sq_error *sq_layer_options_create(sq_layer_options **out);
SQ_API void sq_layer_options_free(sq_layer_options *opts);
/** Set one option (keys above). Unknown keys and malformed values: SQ_ERR_INVALID_ARGUMENT. */
SQ_API sq_error *sq_layer_options_set(sq_layer_options *opts, const char *key, const char *value);

/**
 * Quantize W [rows, cols] with Hessian H [cols, cols] (NULL = data-free). ctx may be NULL (CPU, all
 * threads, no log); opts may be NULL (defaults). Errors: SQ_ERR_INVALID_ARGUMENT (options, shapes,
 * a method that needs H without H), SQ_ERR_NUMERIC (NaN/Inf in W or H; H not positive definite even with
 * damp 1.0), SQ_ERR_UNSUPPORTED (a grid this build lacks).
 */
SQ_API sq_error *sq_quantize_layer(sq_quantized_layer **out, sq_context *ctx, const float *W, size_t rows, size_t cols,
                                   const float *H, const sq_layer_options *opts);
SQ_API void sq_quantized_layer_free(sq_quantized_layer *layer);

/** Integer properties: "rows", "cols", "bits", "group_size", "n_groups", "sym", "grid". */
SQ_API sq_error *sq_quantized_layer_get_int(int64_t *out, const sq_quantized_layer *layer, const char *key);
/** Real properties: "objective", "damp_used". */
SQ_API sq_error *sq_quantized_layer_get_double(double *out, const sq_quantized_layer *layer, const char *key);
/** dtype (SQ_DTYPE_*) and element count of a named tensor (names above). Unknown: SQ_ERR_NOT_FOUND. */
SQ_API sq_error *sq_quantized_layer_tensor_info(int32_t *dtype_out, size_t *count_out, const sq_quantized_layer *layer,
                                                const char *name);
/** Copy a named tensor into out, which holds out_bytes bytes (at least count * element size). */
SQ_API sq_error *sq_quantized_layer_read(void *out, size_t out_bytes, const sq_quantized_layer *layer,
                                         const char *name);

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_LAYER_H */
