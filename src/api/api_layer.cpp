// C ABI: one-layer quantization (sq_layer.h). Argument checks and conversion only; the work is in quant/.
#include <cstring>
#include <string>

#include "api/api_internal.hpp"
#include "quant/layer_quantizer.hpp"
#include "quant/pack.hpp"
#include "streamquant/sq_layer.h"
#include "util/half.hpp"

struct sq_layer_options {
  sq::QuantizeOptions options;
  sq::gptq::CheckpointFormat checkpoint_format = sq::gptq::CheckpointFormat::V1;  // how "qzeros" is written
};

// A packed checkpoint tensor, or why this layer cannot have it (shape not a multiple of 32 bits, zero
// point 0 in format "gptq"): packing happens once at quantization so reads stay const and thread-safe,
// and the error is reported when the tensor is asked for, not when the layer is quantized.
struct PackedTensor {
  std::vector<int32_t> data;
  int32_t error_code = SQ_OK;
  std::string error_message;
};

struct sq_quantized_layer {
  sq::QuantizedLayer layer;
  std::vector<uint16_t> scales_f16;
  PackedTensor qweight, qzeros;
};

using sq::api::guard;
using sq::api::require_arg;

namespace {

// A named tensor of a layer: where its bytes are and how to describe them.
struct TensorView {
  int32_t dtype;
  size_t count;
  const void* data;
};

size_t element_size(int32_t dtype) {
  switch (dtype) {
    case SQ_DTYPE_U8: return 1;
    case SQ_DTYPE_F16: return 2;
    default: return 4;
  }
}

template <typename T>
TensorView view(int32_t dtype, const std::vector<T>& v) {
  return TensorView{dtype, v.size(), v.data()};
}

template <typename F>
PackedTensor pack_or_explain(F&& pack) {
  PackedTensor t;
  try {
    t.data = pack();
  } catch (const sq::Error& e) {
    t.error_code = e.code();
    t.error_message = e.what();
  }
  return t;
}

TensorView packed_view(const PackedTensor& t, const char* fn, const char* name) {
  if (t.error_code != SQ_OK) sq::throw_error(t.error_code, fn, ": tensor '", name, "' is not available: ", t.error_message);
  return view(SQ_DTYPE_I32, t.data);
}

TensorView find_tensor(const sq_quantized_layer& q, const char* fn, const char* name) {
  require_arg(name, fn, "name");
  const sq::QuantizedLayer& l = q.layer;
  const std::string n = name;
  if (n == "codes") return view(SQ_DTYPE_U8, l.codes);
  if (n == "dequant") return view(SQ_DTYPE_F32, l.dequant);
  if (n == "scales") return view(SQ_DTYPE_F32, l.scales);
  if (n == "scales_f16") return view(SQ_DTYPE_F16, q.scales_f16);
  if (n == "zeros") return view(SQ_DTYPE_F32, l.zeros);
  if (n == "g_idx") return view(SQ_DTYPE_I32, l.g_idx);
  if (n == "perm") return view(SQ_DTYPE_I32, l.perm);
  if (n == "lut" || n == "lookup_table") return view(SQ_DTYPE_F32, l.lut);
  if (n == "qweight") return packed_view(q.qweight, fn, name);
  if (n == "qzeros") return packed_view(q.qzeros, fn, name);
  sq::throw_error(SQ_ERR_NOT_FOUND, fn, ": no tensor named '", n,
                  "'; known: codes, dequant, scales, scales_f16, zeros, g_idx, perm, lut, qweight, qzeros, lookup_table");
}

}  // namespace

extern "C" {

SQ_API sq_error* sq_layer_options_create(sq_layer_options** out) {
  return guard([&] {
    require_arg(out, "sq_layer_options_create", "out");
    *out = std::make_unique<sq_layer_options>().release();
  });
}

SQ_API void sq_layer_options_free(sq_layer_options* opts) { delete opts; }

SQ_API sq_error* sq_layer_options_set(sq_layer_options* opts, const char* key, const char* value) {
  return guard([&] {
    require_arg(opts, "sq_layer_options_set", "opts");
    require_arg(key, "sq_layer_options_set", "key");
    require_arg(value, "sq_layer_options_set", "value");
    if (std::strcmp(key, "checkpoint_format") == 0)
      opts->checkpoint_format = sq::gptq::parse_checkpoint_format(value);
    else
      sq::set_option(opts->options, key, value);
  });
}

SQ_API sq_error* sq_quantize_layer(sq_quantized_layer** out, sq_context* ctx, const float* W, size_t rows, size_t cols,
                                   const float* H, const sq_layer_options* opts) {
  return guard([&] {
    require_arg(out, "sq_quantize_layer", "out");
    require_arg(W, "sq_quantize_layer", "W");
    if (rows == 0 || cols == 0 || rows > (size_t(1) << 31) || cols > (size_t(1) << 31))
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "sq_quantize_layer: W must be [rows, cols] with 1 <= rows, cols <= 2^31; got ",
                      rows, " x ", cols);
    const sq_layer_options defaults;
    sq::Backend& backend = ctx && ctx->backend ? *ctx->backend : sq::default_cpu_backend();
    const sq::Logger& log = ctx ? ctx->log : sq::null_logger();
    auto result = std::make_unique<sq_quantized_layer>();
    result->layer = sq::quantize_layer(backend, W, int64_t(rows), int64_t(cols), H, (opts ? *opts : defaults).options, log);
    result->scales_f16.reserve(result->layer.scales.size());
    for (float s : result->layer.scales) result->scales_f16.push_back(sq::float_to_half(s));
    const sq::QuantizedLayer& l = result->layer;
    result->qweight = pack_or_explain([&] { return sq::gptq::pack_qweight(l.codes.data(), l.rows, l.cols, l.bits); });
    if (l.grid == sq::GridKind::Affine) {
      const auto format = (opts ? *opts : defaults).checkpoint_format;
      result->qzeros = pack_or_explain(
          [&] { return sq::gptq::pack_qzeros(l.zeros.data(), l.n_groups, l.rows, l.bits, format); });
    }
    *out = result.release();
  });
}

SQ_API void sq_quantized_layer_free(sq_quantized_layer* layer) { delete layer; }

SQ_API sq_error* sq_quantized_layer_get_int(int64_t* out, const sq_quantized_layer* layer, const char* key) {
  return guard([&] {
    require_arg(out, "sq_quantized_layer_get_int", "out");
    require_arg(layer, "sq_quantized_layer_get_int", "layer");
    require_arg(key, "sq_quantized_layer_get_int", "key");
    const sq::QuantizedLayer& l = layer->layer;
    const std::string k = key;
    int64_t v;
    if (k == "rows") v = l.rows;
    else if (k == "cols") v = l.cols;
    else if (k == "bits") v = l.bits;
    else if (k == "group_size") v = l.group_size;
    else if (k == "n_groups") v = l.n_groups;
    else if (k == "sym") v = l.sym ? 1 : 0;
    else if (k == "grid") v = l.grid == sq::GridKind::Lut ? 1 : 0;
    else
      sq::throw_error(SQ_ERR_NOT_FOUND, "sq_quantized_layer_get_int: no property '", k,
                      "'; known: rows, cols, bits, group_size, n_groups, sym, grid");
    *out = v;
  });
}

SQ_API sq_error* sq_quantized_layer_get_double(double* out, const sq_quantized_layer* layer, const char* key) {
  return guard([&] {
    require_arg(out, "sq_quantized_layer_get_double", "out");
    require_arg(layer, "sq_quantized_layer_get_double", "layer");
    require_arg(key, "sq_quantized_layer_get_double", "key");
    const std::string k = key;
    if (k == "objective") *out = layer->layer.objective;
    else if (k == "damp_used") *out = layer->layer.damp_used;
    else
      sq::throw_error(SQ_ERR_NOT_FOUND, "sq_quantized_layer_get_double: no property '", k, "'; known: objective, damp_used");
  });
}

SQ_API sq_error* sq_quantized_layer_tensor_info(int32_t* dtype_out, size_t* count_out, const sq_quantized_layer* layer,
                                                const char* name) {
  return guard([&] {
    require_arg(dtype_out, "sq_quantized_layer_tensor_info", "dtype_out");
    require_arg(count_out, "sq_quantized_layer_tensor_info", "count_out");
    require_arg(layer, "sq_quantized_layer_tensor_info", "layer");
    const TensorView t = find_tensor(*layer, "sq_quantized_layer_tensor_info", name);
    *dtype_out = t.dtype;
    *count_out = t.count;
  });
}

SQ_API sq_error* sq_quantized_layer_read(void* out, size_t out_bytes, const sq_quantized_layer* layer, const char* name) {
  return guard([&] {
    require_arg(layer, "sq_quantized_layer_read", "layer");
    const TensorView t = find_tensor(*layer, "sq_quantized_layer_read", name);
    const size_t bytes = t.count * element_size(t.dtype);
    if (bytes == 0) return;
    require_arg(out, "sq_quantized_layer_read", "out");
    if (out_bytes < bytes)
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "sq_quantized_layer_read: tensor '", name, "' needs ", bytes,
                      " bytes; the buffer holds ", out_bytes);
    std::memcpy(out, t.data, bytes);
  });
}

}  // extern "C"
