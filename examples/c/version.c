/* The smallest streamquant program: print the library version and create a CPU context. */
#include <stdio.h>

#include <streamquant/streamquant.h>

int main(void) {
  sq_context *ctx = NULL;
  sq_error *err = sq_context_create(&ctx, "cpu");
  if (err) {
    fprintf(stderr, "error %d: %s\n", sq_error_code(err), sq_error_message(err));
    sq_error_free(err);
    return 1;
  }
  printf("streamquant %s (header %d.%d.%d), device %s\n", sq_version(), SQ_VERSION_MAJOR, SQ_VERSION_MINOR,
         SQ_VERSION_PATCH, sq_context_device(ctx));
  sq_context_free(ctx);
  return 0;
}
