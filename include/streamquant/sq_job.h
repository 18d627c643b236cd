/*
 * streamquant C API: the streaming quantization job.
 */
#ifndef STREAMQUANT_SQ_JOB_H
#define STREAMQUANT_SQ_JOB_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_JOB_H */
