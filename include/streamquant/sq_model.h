/*
 * streamquant C API: opening a model and reading its tensors.
 *
 * A model is opened by memory-map and never copied whole. Accepted paths:
 *  - a directory with config.json and model.safetensors, or shards listed by model.safetensors.index.json;
 *  - a single .safetensors file (config.json beside it is used when present);
 *  - a single .gguf file (llama.cpp); tensors are presented under Hugging Face names and layout.
 */
#ifndef STREAMQUANT_SQ_MODEL_H
#define STREAMQUANT_SQ_MODEL_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sq_model sq_model;

/** Maximum number of dimensions a tensor may have. */
#define SQ_MAX_DIMS 8

/** Open a model (see above). The context must outlive the model. */
SQ_API sq_error *sq_model_open(sq_model **out, sq_context *ctx, const char *path_utf8);
SQ_API void sq_model_free(sq_model *model);

/** Number of tensors. */
SQ_API size_t sq_model_tensor_count(const sq_model *model);

/**
 * Describe tensor `index` (0 <= index < count). `name_out` receives a string owned by the model.
 * `dims_out` must hold SQ_MAX_DIMS entries; shapes are in Hugging Face order ([out, in] for weights).
 * Any out-pointer may be NULL.
 */
SQ_API sq_error *sq_model_tensor_info(const sq_model *model, size_t index, const char **name_out,
                                      int32_t *dtype_out, int32_t *ndim_out, int64_t *dims_out);

/** Find a tensor by name; SQ_ERR_NOT_FOUND names the missing tensor. */
SQ_API sq_error *sq_model_find_tensor(const sq_model *model, const char *name, size_t *index_out);

/**
 * Read tensor `name` as fp32 into `dst`, which holds `dst_count` floats (must equal the element count:
 * a mismatch is SQ_ERR_INVALID_ARGUMENT naming both numbers). Block-quantized GGUF types are dequantized.
 */
SQ_API sq_error *sq_model_read_tensor_f32(const sq_model *model, const char *name, float *dst, size_t dst_count);

/**
 * A JSON description of the model, owned by the model (valid until sq_model_free):
 * {"path", "format": "safetensors"|"gguf", "architecture", "config": {...normalized config...},
 *  "num_blocks", "hidden_size", "num_heads", "num_kv_heads", "parameters", "total_bytes",
 *  "tensors": [{"name", "dtype", "shape"}, ...]}
 * "architecture" and "config" are null when the model has no config (a lone .safetensors file).
 */
SQ_API const char *sq_model_describe_json(const sq_model *model);

/**
 * Write the model as a Hugging Face directory: config.json, model.safetensors, tokenizer.json (from GGUF
 * metadata, or copied), plus tokenizer/generation files found beside the source. `dtype` is SQ_DTYPE_F16,
 * SQ_DTYPE_BF16 or SQ_DTYPE_F32, or -1 for "the model's own float dtype" (fp16 for block-quantized sources).
 * Atomic: `out_dir` is complete when this returns NULL, and absent (or untouched) otherwise.
 */
SQ_API sq_error *sq_model_save_hf(const sq_model *model, const char *out_dir_utf8, int32_t dtype);

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_MODEL_H */
