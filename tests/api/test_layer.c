/* One-layer quantization through the shared library: options, sq_quantize_layer, accessors, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamquant/streamquant.h"

#include "check.h"

#define ROWS 16
#define COLS 64
#define TOKENS 256

static float lcg(uint32_t *state) { /* uniform in [-1, 1) */
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / 8388608.0f - 1.0f;
}

static int32_t code_of(sq_error *err) {
  int32_t c = sq_error_code(err);
  sq_error_free(err);
  return c;
}

int main(void) {
  static float w[ROWS * COLS], h[COLS * COLS], x[TOKENS * COLS], dq[ROWS * COLS];
  static uint8_t codes[ROWS * COLS];
  static int32_t g_idx[COLS];
  float scales[ROWS * 2];
  uint32_t seed = 12345u;
  size_t i, j, t, count = 0;
  int32_t dtype = -1;
  int64_t v = 0;
  double objective_gptq = 0, objective_rtn = 0, damp = 0;
  sq_context *ctx = NULL;
  sq_layer_options *opts = NULL;
  sq_quantized_layer *layer = NULL, *rtn = NULL;
  sq_error *err;

  for (i = 0; i < ROWS * COLS; ++i) w[i] = 0.05f * lcg(&seed);
  for (t = 0; t < TOKENS; ++t) {
    float shared = lcg(&seed);
    for (j = 0; j < COLS; ++j) x[t * COLS + j] = lcg(&seed) + 0.8f * shared; /* correlated inputs */
  }
  for (i = 0; i < COLS; ++i)
    for (j = 0; j < COLS; ++j) {
      float s = 0;
      for (t = 0; t < TOKENS; ++t) s += x[t * COLS + i] * x[t * COLS + j];
      h[i * COLS + j] = 2.0f * s / TOKENS;
    }

  CHECK(sq_context_create(&ctx, "cpu") == NULL);
  CHECK(sq_layer_options_create(&opts) == NULL);
  sq_layer_options_free(NULL);
  sq_quantized_layer_free(NULL);

  /* Option errors name the option. */
  err = sq_layer_options_set(opts, "bits", "5");
  CHECK(sq_error_code(err) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(strstr(sq_error_message(err), "bits must be 2, 3, 4 or 8; got 5") != NULL);
  sq_error_free(err);
  CHECK(code_of(sq_layer_options_set(opts, "no_such_key", "1")) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(code_of(sq_layer_options_set(opts, NULL, "1")) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(code_of(sq_layer_options_set(opts, "checkpoint_format", "gptq_v3")) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(sq_layer_options_set(opts, "checkpoint_format", "gptq_v2") == NULL);
  CHECK(code_of(sq_layer_options_set(opts, "scale_dtype", "fp8")) == SQ_ERR_INVALID_ARGUMENT);

  CHECK(sq_layer_options_set(opts, "method", "gptq") == NULL);
  CHECK(sq_layer_options_set(opts, "bits", "3") == NULL);
  CHECK(sq_layer_options_set(opts, "group_size", "32") == NULL);
  CHECK(sq_layer_options_set(opts, "act_order", "true") == NULL);

  /* Argument errors leave out untouched. */
  CHECK(code_of(sq_quantize_layer(&layer, ctx, NULL, ROWS, COLS, h, opts)) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(layer == NULL);
  CHECK(code_of(sq_quantize_layer(&layer, ctx, w, ROWS, COLS, NULL, opts)) == SQ_ERR_INVALID_ARGUMENT);
  CHECK(layer == NULL);

  err = sq_quantize_layer(&layer, ctx, w, ROWS, COLS, h, opts);
  CHECK(err == NULL);
  if (err) fprintf(stderr, "%s\n", sq_error_message(err));
  sq_error_free(err);
  if (layer) {
    CHECK(sq_quantized_layer_get_int(&v, layer, "rows") == NULL && v == ROWS);
    CHECK(sq_quantized_layer_get_int(&v, layer, "cols") == NULL && v == COLS);
    CHECK(sq_quantized_layer_get_int(&v, layer, "bits") == NULL && v == 3);
    CHECK(sq_quantized_layer_get_int(&v, layer, "n_groups") == NULL && v == 2);
    CHECK(code_of(sq_quantized_layer_get_int(&v, layer, "colour")) == SQ_ERR_NOT_FOUND);
    CHECK(sq_quantized_layer_get_double(&objective_gptq, layer, "objective") == NULL && objective_gptq > 0);
    CHECK(sq_quantized_layer_get_double(&damp, layer, "damp_used") == NULL && damp == 0.01);

    CHECK(sq_quantized_layer_tensor_info(&dtype, &count, layer, "codes") == NULL);
    CHECK(dtype == SQ_DTYPE_U8 && count == ROWS * COLS);
    CHECK(sq_quantized_layer_tensor_info(&dtype, &count, layer, "scales_f16") == NULL);
    CHECK(dtype == SQ_DTYPE_F16 && count == ROWS * 2);
    CHECK(code_of(sq_quantized_layer_tensor_info(&dtype, &count, layer, "qweights")) == SQ_ERR_NOT_FOUND);
    /* Packed checkpoint tensors: 64 inputs x 3 bits pack into 6 words per output; 16 outputs x 3 bits do
       not fill whole words, so qzeros is refused with the reason. */
    CHECK(sq_quantized_layer_tensor_info(&dtype, &count, layer, "qweight") == NULL);
    CHECK(dtype == SQ_DTYPE_I32 && count == 6 * ROWS);
    err = sq_quantized_layer_tensor_info(&dtype, &count, layer, "qzeros");
    CHECK(sq_error_code(err) == SQ_ERR_UNSUPPORTED);
    CHECK(err && strstr(sq_error_message(err), "multiple of 32") != NULL);
    sq_error_free(err);
    CHECK(code_of(sq_quantized_layer_read(dq, 8, layer, "dequant")) == SQ_ERR_INVALID_ARGUMENT); /* too small */

    CHECK(sq_quantized_layer_read(codes, sizeof codes, layer, "codes") == NULL);
    CHECK(sq_quantized_layer_read(dq, sizeof dq, layer, "dequant") == NULL);
    CHECK(sq_quantized_layer_read(scales, sizeof scales, layer, "scales") == NULL);
    CHECK(sq_quantized_layer_read(g_idx, sizeof g_idx, layer, "g_idx") == NULL);
    {
      float zeros[ROWS * 2];
      int bad = 0;
      CHECK(sq_quantized_layer_read(zeros, sizeof zeros, layer, "zeros") == NULL);
      for (i = 0; i < ROWS; ++i)
        for (j = 0; j < COLS; ++j) {
          int32_t g = g_idx[j];
          float expect = scales[g * ROWS + i] * ((float)codes[i * COLS + j] - zeros[g * ROWS + i]);
          if (codes[i * COLS + j] > 7 || g < 0 || g > 1 || fabsf(expect - dq[i * COLS + j]) > 1e-6f) ++bad;
        }
      CHECK(bad == 0);
    }
  }

  /* RTN, data-free, is worse on this objective only when measured with H: compare with H given. */
  CHECK(sq_layer_options_set(opts, "method", "rtn") == NULL);
  CHECK(sq_quantize_layer(&rtn, ctx, w, ROWS, COLS, h, opts) == NULL);
  if (rtn) {
    CHECK(sq_quantized_layer_get_double(&objective_rtn, rtn, "objective") == NULL);
    CHECK(objective_gptq < objective_rtn);
  }

  /* NaN in H: SQ_ERR_NUMERIC naming the entry. */
  h[3 * COLS + 4] = NAN;
  err = sq_quantize_layer(&layer, ctx, w, ROWS, COLS, h, opts);
  CHECK(sq_error_code(err) == SQ_ERR_NUMERIC);
  CHECK(strstr(sq_error_message(err), "H[3, 4] is NaN") != NULL);
  sq_error_free(err);

  sq_quantized_layer_free(layer);
  sq_quantized_layer_free(rtn);
  sq_layer_options_free(opts);
  sq_context_free(ctx);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_layer: all checks passed\n");
  return failures ? 1 : 0;
}
