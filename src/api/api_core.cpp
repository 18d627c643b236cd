// C ABI: version, errors, dtypes, context.
#include <cstdlib>
#include <string>

#include "api/api_internal.hpp"
#include "util/dtype.hpp"
#ifdef SQ_HAVE_CUDA
#include "backend/cuda/cuda_backend.hpp"
#endif

namespace {
// Returned when allocating an error object itself fails; sq_error_free never deletes it.
sq_error g_out_of_memory{SQ_ERR_OUT_OF_MEMORY, "out of host memory (while reporting an error)"};

#ifdef SQ_HAVE_CUDA
// "cuda" -> 0, "cuda:N" -> N; anything else is refused with the accepted forms.
int cuda_index(const std::string& dev) {
  if (dev == "cuda") return 0;
  const std::string num = dev.size() > 5 && dev[4] == ':' ? dev.substr(5) : "";
  if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 4)
    sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "device '", dev, "' is not recognized; expected \"cpu\" or \"cuda:N\"");
  return std::stoi(num);
}
#endif
}  // namespace

namespace sq::api {
sq_error* make_error(int32_t code, const std::string& message) noexcept {
  try {
    return new sq_error{code, message};
  } catch (...) {
    return &g_out_of_memory;
  }
}
}  // namespace sq::api

using sq::api::guard;
using sq::api::require_arg;

extern "C" {

SQ_API uint32_t sq_version_number(void) { return SQ_VERSION_NUMBER; }

SQ_API const char* sq_version(void) {
#define SQ_STR2(x) #x
#define SQ_STR(x) SQ_STR2(x)
  return SQ_STR(SQ_VERSION_MAJOR) "." SQ_STR(SQ_VERSION_MINOR) "." SQ_STR(SQ_VERSION_PATCH);
}

SQ_API int32_t sq_error_code(const sq_error* err) { return err ? err->code : SQ_OK; }
SQ_API const char* sq_error_message(const sq_error* err) { return err ? err->message.c_str() : ""; }
SQ_API void sq_error_free(sq_error* err) {
  if (err != &g_out_of_memory) delete err;
}

SQ_API const char* sq_error_code_name(int32_t code) {
  switch (code) {
    case SQ_OK: return "SQ_OK";
    case SQ_ERR_INVALID_ARGUMENT: return "SQ_ERR_INVALID_ARGUMENT";
    case SQ_ERR_IO: return "SQ_ERR_IO";
    case SQ_ERR_FORMAT: return "SQ_ERR_FORMAT";
    case SQ_ERR_UNSUPPORTED: return "SQ_ERR_UNSUPPORTED";
    case SQ_ERR_OUT_OF_MEMORY: return "SQ_ERR_OUT_OF_MEMORY";
    case SQ_ERR_NUMERIC: return "SQ_ERR_NUMERIC";
    case SQ_ERR_CANCELLED: return "SQ_ERR_CANCELLED";
    case SQ_ERR_NOT_FOUND: return "SQ_ERR_NOT_FOUND";
    case SQ_ERR_DEVICE: return "SQ_ERR_DEVICE";
    case SQ_ERR_STATE: return "SQ_ERR_STATE";
    case SQ_ERR_INTERNAL: return "SQ_ERR_INTERNAL";
    default: return "SQ_ERR_UNKNOWN";
  }
}

SQ_API const char* sq_dtype_name(int32_t dtype) { return sq::dtype_name(dtype); }

SQ_API int32_t sq_build_has_cuda(void) {
#ifdef SQ_HAVE_CUDA
  return 1;
#else
  return 0;
#endif
}

SQ_API sq_error* sq_context_create(sq_context** out, const char* device) {
  return guard([&] {
    require_arg(out, "sq_context_create", "out");
    std::string dev = device ? device : "cpu";
    auto ctx = std::make_unique<sq_context>();
    if (dev == "cpu") {
      ctx->backend = sq::make_cpu_backend(0);
    } else if (dev.rfind("cuda", 0) == 0) {
#ifdef SQ_HAVE_CUDA
      ctx->backend = sq::make_cuda_backend(cuda_index(dev), 0, ctx->memory_budget);
#else
      sq::throw_error(SQ_ERR_DEVICE, "device '", dev,
                      "': this build of streamquant has no CUDA backend (configure with -DSQ_WITH_CUDA=ON)");
#endif
    } else {
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "device '", dev, "' is not recognized; expected \"cpu\" or \"cuda:N\"");
    }
    ctx->device = dev;
    *out = ctx.release();
  });
}

SQ_API void sq_context_free(sq_context* ctx) { delete ctx; }

SQ_API sq_error* sq_context_set_threads(sq_context* ctx, int32_t threads) {
  return guard([&] {
    require_arg(ctx, "sq_context_set_threads", "ctx");
    if (threads < 0) sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "threads must be >= 0 (0 = all); got ", threads);
    ctx->threads = threads;
    if (ctx->device == "cpu") ctx->backend = sq::make_cpu_backend(threads);
#ifdef SQ_HAVE_CUDA
    else ctx->backend = sq::make_cuda_backend(cuda_index(ctx->device), threads, ctx->memory_budget);
#endif
    ctx->backend->set_forward_matmul(ctx->forward_inputs);
  });
}

SQ_API sq_error* sq_context_set_log(sq_context* ctx, sq_log_fn fn, int32_t min_level, void* user_data) {
  return guard([&] {
    require_arg(ctx, "sq_context_set_log", "ctx");
    if (min_level < SQ_LOG_DEBUG || min_level > SQ_LOG_ERROR)
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "log level must be 0..3 (SQ_LOG_DEBUG..SQ_LOG_ERROR); got ", min_level);
    ctx->log.fn = fn;
    ctx->log.user_data = user_data;
    ctx->log.min_level = min_level;
  });
}

SQ_API sq_error* sq_context_set_memory_budget(sq_context* ctx, uint64_t bytes) {
  return guard([&] {
    require_arg(ctx, "sq_context_set_memory_budget", "ctx");
    if (bytes < (uint64_t(64) << 20))
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "memory budget must be at least 64 MiB; got ", bytes, " bytes");
    ctx->memory_budget = bytes;
    ctx->backend->set_device_memory_budget(bytes);
  });
}

SQ_API sq_error* sq_context_set_matmul_precision(sq_context* ctx, const char* precision) {
  return guard([&] {
    require_arg(ctx, "sq_context_set_matmul_precision", "ctx");
    const std::string p = precision ? precision : "";
    if (p != "fp32" && p != "tf32" && p != "bf16")
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "matmul precision '", p,
                      "' is not recognized; expected \"fp32\", \"tf32\" or \"bf16\"");
    ctx->forward_inputs = p == "tf32"   ? sq::MatmulInputs::TF32
                          : p == "bf16" ? sq::MatmulInputs::BF16
                                        : sq::MatmulInputs::FP32;
    ctx->backend->set_forward_matmul(ctx->forward_inputs);
  });
}

SQ_API const char* sq_context_device(const sq_context* ctx) { return ctx ? ctx->device.c_str() : ""; }

SQ_API uint64_t sq_context_device_memory_peak(const sq_context* ctx) {
  return ctx && ctx->backend ? ctx->backend->device_memory_peak() : 0;
}

}  // extern "C"
