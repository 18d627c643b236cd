/*
 * streamquant C API: reading quantized outputs back.
 */
#ifndef STREAMQUANT_SQ_READER_H
#define STREAMQUANT_SQ_READER_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_READER_H */
