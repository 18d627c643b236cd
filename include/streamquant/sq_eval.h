/*
 * streamquant C API: forward pass, logits and perplexity.
 */
#ifndef STREAMQUANT_SQ_EVAL_H
#define STREAMQUANT_SQ_EVAL_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_EVAL_H */
