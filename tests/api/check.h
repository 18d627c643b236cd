/* The tiny assertion helper shared by the C API tests: count failures, keep going, report at the end. */
#ifndef SQ_TESTS_API_CHECK_H
#define SQ_TESTS_API_CHECK_H
#include <stdio.h>

static int failures = 0;
#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                               \
    }                                                                           \
  } while (0)

#endif
