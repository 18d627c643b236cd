/* Eval C API through the shared library: argument checks that need no model file. */
#include <stdio.h>
#include <string.h>

#include "streamquant/streamquant.h"

#include "check.h"

/* The error has `code` and its message mentions `needle`; frees it. */
static void expect_error(sq_error *err, int32_t code, const char *needle) {
  CHECK(sq_error_code(err) == code);
  CHECK(strstr(sq_error_message(err), needle) != NULL);
  if (strstr(sq_error_message(err), needle) == NULL) fprintf(stderr, "message: %s\n", sq_error_message(err));
  sq_error_free(err);
}

int main(void) {
  int32_t tokens[4] = {1, 2, 3, 4};
  float logits[8];
  double ppl = -1.0;
  size_t scored = 7;

  expect_error(sq_model_logits(NULL, tokens, 4, logits, 8), SQ_ERR_INVALID_ARGUMENT, "model");
  expect_error(sq_model_perplexity(NULL, tokens, 4, 2, 0, &ppl, &scored), SQ_ERR_INVALID_ARGUMENT, "model");
  /* Out-params stay untouched on failure. */
  CHECK(ppl == -1.0);
  CHECK(scored == 7);
  if (failures == 0) printf("eval API: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
