// C ABI: opening models, listing and reading tensors, describing, exporting.
#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "api/api_model.hpp"
#include "streamquant/sq_model.h"
#include "io/hf_export.hpp"

using sq::api::guard;
using sq::api::require_arg;

namespace {

std::string describe(const sq_model& m) {
  using nlohmann::json;
  const auto& ts = m.files.weights->tensors();
  json tensors = json::array();
  uint64_t params = 0, bytes = 0;
  for (const auto& t : ts) {
    params += t.numel();
    bytes += sq::dtype_storage_bytes(t.dtype, t.numel(), t.name);
    tensors.push_back({{"name", t.name}, {"dtype", sq::dtype_name(t.dtype)}, {"shape", t.shape}});
  }
  json d;
  d["path"] = m.files.path;
  d["format"] = m.files.weights->format();
  d["parameters"] = params;
  d["total_bytes"] = bytes;
  d["num_tensors"] = ts.size();
  if (m.files.config) {
    const sq::ModelConfig& c = *m.files.config;
    d["architecture"] = c.architecture;
    d["num_blocks"] = c.num_hidden_layers;
    d["hidden_size"] = c.hidden_size;
    d["intermediate_size"] = c.intermediate_size;
    d["num_heads"] = c.num_attention_heads;
    d["num_kv_heads"] = c.num_key_value_heads;
    d["head_dim"] = c.head_dim;
    d["vocab_size"] = c.vocab_size;
    d["tie_word_embeddings"] = c.tie_word_embeddings;
    d["config"] = c.raw;
  } else {
    d["architecture"] = nullptr;
    d["config"] = nullptr;
  }
  d["has_tokenizer"] = !m.files.tokenizer_json.empty();
  d["tensors"] = std::move(tensors);
  return d.dump();
}

const sq::TensorDesc& tensor_at(const sq_model* model, size_t index) {
  const auto& ts = model->files.weights->tensors();
  if (index >= ts.size())
    sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "tensor index ", index, " out of range (model has ", ts.size(),
                    " tensors)");
  return ts[index];
}

}  // namespace

extern "C" {

SQ_API sq_error* sq_model_open(sq_model** out, sq_context* ctx, const char* path_utf8) {
  return guard([&] {
    require_arg(out, "sq_model_open", "out");
    require_arg(ctx, "sq_model_open", "ctx");
    require_arg(path_utf8, "sq_model_open", "path_utf8");
    auto model = std::make_unique<sq_model>();
    model->ctx = ctx;
    model->files = sq::open_model_files(path_utf8);
    model->describe_json = describe(*model);
    ctx->log.info("opened ", path_utf8, ": ", model->files.weights->tensors().size(), " tensors (",
                  model->files.weights->format(), ")");
    *out = model.release();
  });
}

SQ_API void sq_model_free(sq_model* model) { delete model; }

SQ_API size_t sq_model_tensor_count(const sq_model* model) {
  return model ? model->files.weights->tensors().size() : 0;
}

SQ_API sq_error* sq_model_tensor_info(const sq_model* model, size_t index, const char** name_out,
                                      int32_t* dtype_out, int32_t* ndim_out, int64_t* dims_out) {
  return guard([&] {
    require_arg(model, "sq_model_tensor_info", "model");
    const sq::TensorDesc& t = tensor_at(model, index);
    if (t.shape.size() > SQ_MAX_DIMS)
      sq::throw_error(SQ_ERR_UNSUPPORTED, "tensor '", t.name, "' has ", t.shape.size(), " dimensions (max ",
                      SQ_MAX_DIMS, ")");
    if (name_out) *name_out = t.name.c_str();
    if (dtype_out) *dtype_out = t.dtype;
    if (ndim_out) *ndim_out = int32_t(t.shape.size());
    if (dims_out) std::copy(t.shape.begin(), t.shape.end(), dims_out);
  });
}

SQ_API sq_error* sq_model_find_tensor(const sq_model* model, const char* name, size_t* index_out) {
  return guard([&] {
    require_arg(model, "sq_model_find_tensor", "model");
    require_arg(name, "sq_model_find_tensor", "name");
    require_arg(index_out, "sq_model_find_tensor", "index_out");
    *index_out = model->files.weights->require(name);
  });
}

SQ_API sq_error* sq_model_read_tensor_f32(const sq_model* model, const char* name, float* dst, size_t dst_count) {
  return guard([&] {
    require_arg(model, "sq_model_read_tensor_f32", "model");
    require_arg(name, "sq_model_read_tensor_f32", "name");
    require_arg(dst, "sq_model_read_tensor_f32", "dst");
    const size_t index = model->files.weights->require(name);
    const sq::TensorDesc& t = tensor_at(model, index);
    if (uint64_t(dst_count) != t.numel())
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "sq_model_read_tensor_f32: tensor '", name, "' has ", t.numel(),
                      " elements but the destination holds ", dst_count);
    model->files.weights->read_f32(index, dst);
  });
}

SQ_API const char* sq_model_describe_json(const sq_model* model) {
  return model ? model->describe_json.c_str() : "null";
}

SQ_API sq_error* sq_model_save_hf(const sq_model* model, const char* out_dir_utf8, int32_t dtype) {
  return guard([&] {
    require_arg(model, "sq_model_save_hf", "model");
    require_arg(out_dir_utf8, "sq_model_save_hf", "out_dir_utf8");
    if (dtype != -1 && !sq::dtype_is_float(dtype))
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "sq_model_save_hf: dtype must be SQ_DTYPE_F32, SQ_DTYPE_F16, "
                      "SQ_DTYPE_BF16 or -1; got ", dtype);
    sq::save_hf_model(model->files, out_dir_utf8, dtype, model->ctx->log);
  });
}

}  // extern "C"
