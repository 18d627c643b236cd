/*
 * streamquant C API: quantizing one layer from W and H (sq_quantize_layer).
 */
#ifndef STREAMQUANT_SQ_LAYER_H
#define STREAMQUANT_SQ_LAYER_H

#include "sq_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif /* STREAMQUANT_SQ_LAYER_H */
