/*
 * streamquant C API: core definitions shared by every part of the API.
 *
 * Conventions (see docs in README.md, "C API conventions"):
 *  - Every fallible call returns `sq_error *`: NULL on success, otherwise an error object owned by the
 *    caller, read with sq_error_code / sq_error_message and released with sq_error_free.
 *    There is no thread-local "last error". On failure, out-parameters are left untouched.
 *  - Objects returned through `**out` are owned by the caller and released with the matching `_free`,
 *    which returns void and accepts NULL.
 *  - Only fixed-width integers, size_t, and UTF-8 `const char *` cross the boundary.
 *  - Callbacks take `user_data` last; they run only on the thread that called into the library.
 */
#ifndef STREAMQUANT_SQ_CORE_H
#define STREAMQUANT_SQ_CORE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(SQ_BUILDING_LIBRARY)
#    define SQ_API __declspec(dllexport)
#  else
#    define SQ_API __declspec(dllimport)
#  endif
#else
#  define SQ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------------------------------- */
#define SQ_VERSION_MAJOR 0
#define SQ_VERSION_MINOR 1
#define SQ_VERSION_PATCH 0
#define SQ_VERSION_NUMBER (SQ_VERSION_MAJOR * 10000 + SQ_VERSION_MINOR * 100 + SQ_VERSION_PATCH)

/** Runtime library version as MAJOR*10000 + MINOR*100 + PATCH (compare with SQ_VERSION_NUMBER). */
SQ_API uint32_t sq_version_number(void);
/** Runtime library version as "MAJOR.MINOR.PATCH" (static storage). */
SQ_API const char *sq_version(void);

/* ---- errors -------------------------------------------------------------------------------------- */
/* Error codes are pinned: values never change meaning. New codes get new numbers. */
#define SQ_OK 0                   /* never carried by an sq_error; listed for bindings */
#define SQ_ERR_INVALID_ARGUMENT 1 /* a NULL pointer, an unknown option, a value out of range */
#define SQ_ERR_IO 2               /* a file could not be opened, read, mapped or written */
#define SQ_ERR_FORMAT 3           /* a file is malformed: bad header, JSON, offsets, shapes */
#define SQ_ERR_UNSUPPORTED 4      /* valid input this build does not handle (dtype, architecture) */
#define SQ_ERR_OUT_OF_MEMORY 5    /* host allocation failed, or a memory budget would be exceeded */
#define SQ_ERR_NUMERIC 6          /* NaN/Inf input, a Hessian that cannot be made positive definite */
#define SQ_ERR_CANCELLED 7        /* a progress callback asked to stop */
#define SQ_ERR_NOT_FOUND 8        /* a tensor, key or file that was asked for does not exist */
#define SQ_ERR_DEVICE 9           /* CUDA / cuBLAS / cuSOLVER failure, or no such device */
#define SQ_ERR_STATE 10           /* a call made in the wrong order (e.g. write before run) */
#define SQ_ERR_INTERNAL 99        /* a bug: please report it with the message */

typedef struct sq_error sq_error;

/** The pinned code of an error (SQ_ERR_*); SQ_OK for NULL. */
SQ_API int32_t sq_error_code(const sq_error *err);
/** UTF-8 message naming the file, tensor or option at fault; "" for NULL. Owned by the error. */
SQ_API const char *sq_error_message(const sq_error *err);
/** Release an error. Accepts NULL. */
SQ_API void sq_error_free(sq_error *err);
/** A stable name for a code, e.g. "SQ_ERR_FORMAT" (static storage). */
SQ_API const char *sq_error_code_name(int32_t code);

/* ---- dtypes -------------------------------------------------------------------------------------- */
#define SQ_DTYPE_F32 0
#define SQ_DTYPE_F16 1
#define SQ_DTYPE_BF16 2
#define SQ_DTYPE_I32 3
#define SQ_DTYPE_I8 4
#define SQ_DTYPE_U8 5
/* Block-quantized GGUF storage types (read-only; always read as fp32). */
#define SQ_DTYPE_Q4_0 20
#define SQ_DTYPE_Q4_1 21
#define SQ_DTYPE_Q8_0 22
#define SQ_DTYPE_Q4_K 23
#define SQ_DTYPE_Q6_K 24

/** Short name of a dtype ("F32", "BF16", "Q4_1", ...); "?" when unknown. Static storage. */
SQ_API const char *sq_dtype_name(int32_t dtype);

/* ---- context --------------------------------------------------------------------------------------- */
typedef struct sq_context sq_context;

/* Log levels passed to the log callback. */
#define SQ_LOG_DEBUG 0
#define SQ_LOG_INFO 1
#define SQ_LOG_WARN 2
#define SQ_LOG_ERROR 3

/** Receives one UTF-8 log line (no trailing newline). */
typedef void (*sq_log_fn)(int32_t level, const char *message, void *user_data);

/**
 * Create a context. `device` is "cpu" or "cuda:N" (NULL means "cpu"). Asking for CUDA in a build
 * without it, or for a device that is absent, fails with SQ_ERR_DEVICE.
 */
SQ_API sq_error *sq_context_create(sq_context **out, const char *device);
SQ_API void sq_context_free(sq_context *ctx);
/** Worker threads for CPU work; 0 = all hardware threads (the default). */
SQ_API sq_error *sq_context_set_threads(sq_context *ctx, int32_t threads);
/** Log sink; messages below `min_level` are dropped. fn = NULL silences the library (the default). */
SQ_API sq_error *sq_context_set_log(sq_context *ctx, sq_log_fn fn, int32_t min_level, void *user_data);
/** Device memory budget in bytes for the CUDA backend (default 32 GiB); ignored on CPU. */
SQ_API sq_error *sq_context_set_memory_budget(sq_context *ctx, uint64_t bytes);
/**
 * Arithmetic of a GPU context's calibration forward pass and Hessian accumulation: "fp32" (the default:
 * plain fp32, results agree with the CPU reference to rounding), "tf32" (TF32 tensor cores on NVIDIA
 * Ampere and later: GEMM inputs rounded to 10-bit mantissas, fp32 accumulation; several times faster) or
 * "bf16" (the forward's GEMM inputs may be rounded to bf16's 8-bit mantissas, at twice TF32's tensor-core
 * rate; the Hessians stay TF32). The quantizers' own arithmetic stays fp32 in every mode. Ignored on CPU;
 * any other string is SQ_ERR_INVALID_ARGUMENT.
 */
SQ_API sq_error *sq_context_set_matmul_precision(sq_context *ctx, const char *precision);
/** The device string this context runs on ("cpu", "cuda:0"). Owned by the context. */
SQ_API const char *sq_context_device(const sq_context *ctx);
/** The most device memory this context's backend has held at once, in bytes, counted against the budget
 * (its own allocations; the CUDA runtime's context is outside the count). 0 on CPU or for NULL. */
SQ_API uint64_t sq_context_device_memory_peak(const sq_context *ctx);
/** 1 when this build includes the CUDA backend, else 0. */
SQ_API int32_t sq_build_has_cuda(void);

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_CORE_H */
