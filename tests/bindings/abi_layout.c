/* Prints the ABI facts every binding hard-codes, as "name value" lines, straight from the public header:
 * widths of the scalar types that cross the boundary and the pinned constants. The binding tests read this
 * file and compare it with their own declarations, so a header change that a binding missed fails loudly.
 * No struct crosses the C ABI today (every object is an opaque handle); a future one adds its sizeof and
 * offsetof lines here (see the STRUCT macro). */
#include <stddef.h>
#include <stdio.h>

#include "streamquant/streamquant.h"

#define VALUE(name) printf("%s %lld\n", #name, (long long)(name))
#define SIZE(type, key) printf("sizeof_%s %lld\n", key, (long long)sizeof(type))

int main(void) {
  SIZE(size_t, "size_t");
  SIZE(void *, "pointer");
  SIZE(int32_t, "int32_t");
  SIZE(int64_t, "int64_t");
  SIZE(double, "double");
  SIZE(sq_progress_fn, "sq_progress_fn");
  SIZE(sq_tensor_sink_fn, "sq_tensor_sink_fn");
  SIZE(sq_log_fn, "sq_log_fn");
  VALUE(SQ_VERSION_NUMBER);
  VALUE(SQ_MAX_DIMS);
  VALUE(SQ_OK);
  VALUE(SQ_ERR_INVALID_ARGUMENT);
  VALUE(SQ_ERR_IO);
  VALUE(SQ_ERR_FORMAT);
  VALUE(SQ_ERR_UNSUPPORTED);
  VALUE(SQ_ERR_OUT_OF_MEMORY);
  VALUE(SQ_ERR_NUMERIC);
  VALUE(SQ_ERR_CANCELLED);
  VALUE(SQ_ERR_NOT_FOUND);
  VALUE(SQ_ERR_DEVICE);
  VALUE(SQ_ERR_STATE);
  VALUE(SQ_ERR_INTERNAL);
  VALUE(SQ_DTYPE_F32);
  VALUE(SQ_DTYPE_F16);
  VALUE(SQ_DTYPE_BF16);
  VALUE(SQ_DTYPE_I32);
  VALUE(SQ_DTYPE_I8);
  VALUE(SQ_DTYPE_U8);
  VALUE(SQ_LOG_DEBUG);
  VALUE(SQ_LOG_INFO);
  VALUE(SQ_LOG_WARN);
  VALUE(SQ_LOG_ERROR);
  return 0;
}
