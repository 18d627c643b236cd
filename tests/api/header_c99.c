/* Compiled with -std=c99 -pedantic -Wall -Wextra -Werror: the public header must be plain C99. */
#include "streamquant/streamquant.h"

int sq_header_c99_probe(void);
int sq_header_c99_probe(void) { return SQ_VERSION_MAJOR + SQ_ERR_INTERNAL; }
