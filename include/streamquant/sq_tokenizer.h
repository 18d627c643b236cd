/*
 * streamquant C API: Hugging Face tokenizer.json encode/decode.
 */
#ifndef STREAMQUANT_SQ_TOKENIZER_H
#define STREAMQUANT_SQ_TOKENIZER_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_TOKENIZER_H */
