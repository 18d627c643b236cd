/* Core C API through the shared library: version, errors, context. */
#include <stdio.h>
#include <string.h>

#include "streamquant/streamquant.h"

#include "check.h"

int main(void) {
  sq_context *ctx = NULL;
  sq_error *err;
  CHECK(sq_version_number() == SQ_VERSION_NUMBER);
  CHECK(strlen(sq_version()) >= 5);
  CHECK(sq_error_code(NULL) == SQ_OK);
  CHECK(strcmp(sq_error_message(NULL), "") == 0);
  sq_error_free(NULL);
  sq_context_free(NULL);

  err = sq_context_create(NULL, "cpu");
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(strstr(sq_error_message(err), "out") != NULL);
  sq_error_free(err);

  err = sq_context_create(&ctx, "tpu:7");
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(strstr(sq_error_message(err), "tpu:7") != NULL);
  CHECK(ctx == NULL); /* out-parameter untouched on failure */
  sq_error_free(err);

  /* Without the CUDA backend, or without a GPU, "cuda:0" is a clear SQ_ERR_DEVICE, never a crash. */
  err = sq_context_create(&ctx, "cuda:0");
  if (err || !sq_build_has_cuda()) {
    CHECK(sq_error_code(err) == SQ_ERR_DEVICE);
    CHECK(strstr(sq_error_message(err), "cuda") != NULL || strstr(sq_error_message(err), "CUDA") != NULL);
    sq_error_free(err);
  } else {
    sq_context_free(ctx);
  }
  ctx = NULL;

  err = sq_context_create(&ctx, "cpu");
  CHECK(err == NULL);
  CHECK(strcmp(sq_context_device(ctx), "cpu") == 0);
  err = sq_context_set_threads(ctx, -1);
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  sq_error_free(err);
  CHECK(sq_context_set_threads(ctx, 2) == NULL);
  /* A CPU context holds no device memory; the budget is accepted (and ignored) above 64 MiB only. */
  CHECK(sq_context_device_memory_peak(ctx) == 0);
  CHECK(sq_context_device_memory_peak(NULL) == 0);
  CHECK(sq_context_set_memory_budget(ctx, (uint64_t)24 << 30) == NULL);
  CHECK(sq_context_set_matmul_precision(ctx, "tf32") == NULL);
  CHECK(sq_context_set_matmul_precision(ctx, "bf16") == NULL);
  CHECK(sq_context_set_matmul_precision(ctx, "fp32") == NULL);
  err = sq_context_set_matmul_precision(ctx, "fp16");
  CHECK(err != NULL && sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT && strstr(sq_error_message(err), "fp16") != NULL);
  sq_error_free(err);
  err = sq_context_set_memory_budget(ctx, 1000);
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  sq_error_free(err);
  CHECK(strcmp(sq_error_code_name(SQ_ERR_FORMAT), "SQ_ERR_FORMAT") == 0);
  CHECK(strcmp(sq_dtype_name(SQ_DTYPE_BF16), "BF16") == 0);
  sq_context_free(ctx);

  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_core: all checks passed\n");
  return failures ? 1 : 0;
}
