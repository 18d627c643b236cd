// The job's path for data-free methods (RTN without act-order, HIGGS): no calibration, no forward pass.
// Each linear weight is read from the source on its own, quantized, encoded and dropped, so memory holds one
// weight (fp32) and its quantized form; the block's encoded layers are small and written together.
#include <utility>
#include <vector>

#include "model/llama_block.hpp"
#include "pipeline/job.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/quantize_call.hpp"
#include "pipeline/spool.hpp"
#include "util/error.hpp"

namespace sq {

void Job::quantize_block_data_free(int64_t block) {
  const ModelConfig& cfg = config();
  std::vector<std::pair<std::string, EncodedLayer>> encoded;
  for (LinearGroup group : {LinearGroup::QKV, LinearGroup::O, LinearGroup::GateUp, LinearGroup::Down}) {
    for (const std::string& name : linear_names(group)) {
      const std::string prefix = cfg.layer_prefix(block) + name;
      QuantizedLayer q;
      {
        const LinearWeight w = [&] {
          StageTimer t(times_.load);
          return load_linear_weight(*model_.weights, cfg, block, name);
        }();
        StageTimer t(quantize_seconds_);
        q = quantize_linear(be_, w.data.data(), w.rows, w.cols, nullptr, opts_, log_, prefix);
        if (q.dequant.size() != w.data.size())
          throw_error(SQ_ERR_INTERNAL, "quantizer returned ", q.dequant.size(), " weights for '", prefix, "' (", w.rows,
                      "x", w.cols, ")");
      }  // the fp32 weight is dropped here
      log_.debug(prefix, ": ||W - Q||^2 ", q.objective);
      encoded.emplace_back(prefix, encode_layer(q));
      if (sink_) sink_(prefix, q);
    }
  }
  StageTimer t(times_.spool);
  write_spool_block(spool_block_path(work_dir_, block), encoded);
}

}  // namespace sq
