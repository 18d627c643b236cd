/*
 * streamquant: post-training quantization of large language models, streamed one block at a time.
 * The whole public C API. Include this header alone; the sq_*.h parts are not meant to be used apart.
 */
#ifndef STREAMQUANT_STREAMQUANT_H
#define STREAMQUANT_STREAMQUANT_H

#include "sq_core.h"
#include "sq_model.h"
#include "sq_tokenizer.h"
#include "sq_layer.h"
#include "sq_eval.h"
#include "sq_job.h"

#endif /* STREAMQUANT_STREAMQUANT_H */
