/*
 * streamquant C API: the streaming quantization job.
 *
 * A job quantizes an opened model one transformer block at a time:
 *   sq_job_create -> sq_job_set_option (...) -> calibration -> sq_job_run (or sq_job_step in a loop)
 *   -> sq_job_write (any number of times, any format) -> sq_job_free.
 * Data-free methods (rtn without act_order, higgs) need no calibration: any that is set is ignored, and
 * the job runs no forward pass (each linear weight is loaded, quantized and dropped in turn).
 * Options (keys and values are strings; unknown keys or bad values are SQ_ERR_INVALID_ARGUMENT):
 *   method            rtn | gptq | leanquant | leanquant-affine | higgs | higgs-gptq   (default gptq)
 *   bits              2 | 3 | 4 | 8   (higgs: 2 | 3 | 4, or 8 with grid_dim 1)         (default 4)
 *   group_size        -1 (per-channel) or a multiple of 8         (default 128)
 *   sym, act_order    true | false                                (default false)
 *   static_groups     true | false: fit every group's grid before the sweep, on the original column
 *                     order (GPTQ's static_groups; g_idx stays column // group_size)  (default false)
 *   damp              relative Hessian damping                    (default 0.01)
 *   exponent          LeanQuant importance exponent               (default 4)
 *   nsamples, seqlen  calibration samples cut from a token stream (default 128, 2048)
 *   seed              sampling seed                               (default 0)
 *   activation_dtype  fp32 | fp16 | bf16: how activations are held between blocks (default fp32)
 *   pass_checkpoints  true: each calibration pass through a block starts where the previous one left its
 *                     attention output or residual, when the memory holds them (one more fp32 copy of the
 *                     activations: in the GPU budget, or at most a quarter of the free host memory); false:
 *                     every pass starts at the block's input. The same results either way (default true)
 *   hadamard_size     HIGGS rotation block, a power of two; group_size must divide it, -1 = one scale
 *                     per block (default 512)
 *   grid_dim          HIGGS Gaussian grid dimension: 0 = the method's (higgs 2, higgs-gptq 1), 1 or 2
 *   random_signs      HIGGS randomized Hadamard (signs from rotation_seed) (default false)
 *   rotation_seed     seed of those signs, stored with each layer (default 0)
 *   checkpoint_dir    directory for the resume checkpoint (default: none, a private temporary one)
 *   resume            true: continue from checkpoint_dir when it matches this job (default false)
 *   target_bpw        dynamic bit allocation: average bits per weight over the linear layers, scale and
 *                     zero overhead included (bits + (16 + bits) / group_size); 0 = off (default). Each layer
 *                     gets 2, 3, 4 or 8 bits, minimizing sum alpha_l * t_l (HIGGS linearity theorem) with
 *                     t_l the layer's measured RTN relative MSE. Needs sensitivity_file.
 *   sensitivity_file  JSON of per-layer alphas (sq_model_calibrate_sensitivity / calibrate-sensitivity)
 *   bit_plan_file     explicit per-layer bits instead: JSON {"layer prefix": bits, ...}; layers not named
 *                     keep "bits". Outputs record the plan in quantization_config "per_layer".
 *   plan_bits         the widths a plan may use, comma-separated, e.g. "3,4,8" (default "": all the method
 *                     offers: 2, 3, 4, 8; HIGGS 2, 3, 4)
 * Options and calibration are frozen by the first sq_job_step / sq_job_run.
 */
#ifndef STREAMQUANT_SQ_JOB_H
#define STREAMQUANT_SQ_JOB_H

#include "sq_core.h"
#include "sq_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_job sq_job;

/** Progress after each block: blocks done, block count, seconds elapsed, estimated seconds left.
 *  Return non-zero to cancel: the step/run call then fails with SQ_ERR_CANCELLED and writes nothing. */
typedef int32_t (*sq_progress_fn)(int64_t blocks_done, int64_t block_count, double elapsed_s, double eta_s,
                                  void *user_data);

/** Receives the packed tensors of each quantized layer as soon as its block is done (GPTQ layout for
 *  affine grids: qweight, qzeros, scales, g_idx; LUT layout for lookup-table grids: qweight,
 *  lookup_table). Layers with no such layout (HIGGS's Gaussian grids) fail the step with
 *  SQ_ERR_UNSUPPORTED. `data` is valid only during the call. */
typedef void (*sq_tensor_sink_fn)(const char *name, int32_t dtype, int32_t ndim, const int64_t *dims,
                                  const void *data, size_t nbytes, void *user_data);

/** Create a job on an opened model (which must outlive the job). */
SQ_API sq_error *sq_job_create(sq_job **out, sq_model *model);
SQ_API void sq_job_free(sq_job *job);

/** Set one option (see above). */
SQ_API sq_error *sq_job_set_option(sq_job *job, const char *key, const char *value);

/** Calibration samples given exactly: n_seqs rows of seq_len token ids (copied). */
SQ_API sq_error *sq_job_set_calibration_tokens(sq_job *job, const int32_t *tokens, size_t n_seqs, size_t seq_len);

/** Calibration from a file: a token file (.npy int32/int64, or raw little-endian uint32 with extension
 *  .bin/.tokens) or UTF-8 text tokenized with the model's tokenizer; nsamples x seqlen windows are then
 *  cut at seeded random offsets. The file must be readable now (else SQ_ERR_IO); it is read and tokenized
 *  when the job starts, and not at all for data-free methods. */
SQ_API sq_error *sq_job_set_calibration_file(sq_job *job, const char *path_utf8);

SQ_API sq_error *sq_job_set_progress(sq_job *job, sq_progress_fn fn, void *user_data);
SQ_API sq_error *sq_job_set_tensor_sink(sq_job *job, sq_tensor_sink_fn fn, void *user_data);

/** Same as the "checkpoint_dir" and "resume" options. */
SQ_API sq_error *sq_job_set_checkpoint_dir(sq_job *job, const char *dir_utf8, int32_t resume);

/** Quantize exactly one block; *out_done becomes 1 when every block is done (out_done may be NULL). */
SQ_API sq_error *sq_job_step(sq_job *job, int32_t *out_done);
/** Quantize every remaining block. */
SQ_API sq_error *sq_job_run(sq_job *job);
/** Blocks done so far and the block count (either pointer may be NULL). */
SQ_API sq_error *sq_job_progress(const sq_job *job, int64_t *done_out, int64_t *count_out);

/** Write the result to `out_dir` as "gptq", "lut" or "sq". Needs a finished job (else SQ_ERR_STATE).
 *  Atomic: the directory is complete when this returns NULL and absent otherwise; an existing
 *  non-empty directory is refused. */
SQ_API sq_error *sq_job_write(sq_job *job, const char *out_dir_utf8, const char *format);

/**
 * Wall time per stage so far, in seconds, as a JSON object: {"load", "forward", "hessian", "cholesky",
 * "sweep", "spool", "write"} (forward without the Hessian accumulation inside it; sweep = the quantizers'
 * time apart from their Cholesky factorizations; write = sq_job_write). Owned by the job and valid until
 * the next call with it; "{}" for NULL.
 */
SQ_API const char *sq_job_stage_seconds_json(sq_job *job);

/** What the last sq_job_write stored for the quantized layers: the weights they replace, every byte written
 *  for them (codes, scales, zeros, tables, indices, outliers, schemes) and 8 * bytes / weights, the effective
 *  bits per weight (any pointer may be NULL). SQ_ERR_STATE before a successful sq_job_write. */
SQ_API sq_error *sq_job_output_stats(const sq_job *job, int64_t *quantized_weights_out, int64_t *quantized_bytes_out,
                                     double *bits_per_weight_out);

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_JOB_H */
