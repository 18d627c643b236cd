#include "pipeline/quantize_call.hpp"

#include "util/error.hpp"

// The layer quantizer lands separately from the pipeline; until it is in the tree the pipeline builds
// and reports a clear error instead of failing to compile.
#if __has_include("quant/layer_quantizer.hpp")
#include "quant/layer_quantizer.hpp"
#define SQ_HAVE_LAYER_QUANTIZER 1
#endif

namespace sq {

QuantizedLayer quantize_linear(Backend& be, const float* W, int64_t rows, int64_t cols, const float* H,
                               const JobOptions& opts, const Logger& log) {
#ifdef SQ_HAVE_LAYER_QUANTIZER
  QuantizeOptions q;
  q.method = opts.method;
  q.bits = opts.bits;
  q.group_size = opts.group_size;
  q.sym = opts.sym;
  q.act_order = opts.act_order;
  return quantize_layer(be, W, rows, cols, H, q, log);
#else
  (void)be, (void)W, (void)rows, (void)cols, (void)H, (void)log;
  throw_error(SQ_ERR_UNSUPPORTED, "method '", opts.method, "': this build has no layer quantizer");
#endif
}

}  // namespace sq
