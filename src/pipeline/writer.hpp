// Output writers: the job's spooled layers plus the model's other tensors, as a GPTQ checkpoint
// ("gptq"), a per-row lookup-table checkpoint ("lut"), or the project's own container ("sq").
// All outputs are atomic (AtomicDir): the directory is complete or absent. Layers are decoded one at a
// time from the spool, so memory stays about one layer whatever the model size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/writer_common.hpp"
#include "quant/quantized_layer.hpp"

namespace sq {

// One packed output tensor (what the writers store and the C ABI's tensor sink receives).
struct PackedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// GPTQ tensors of one affine layer: qweight, qzeros, scales (fp16), g_idx. `v1` stores zeros - 1
// (checkpoint_format "gptq"); otherwise the zeros themselves ("gptq_v2").
std::vector<PackedTensor> pack_gptq_layer(const std::string& prefix, const QuantizedLayer& layer, bool v1);
// LUT tensors of one layer (one group per row): qweight and lookup_table (fp16 [rows, 2^bits]). Affine
// per-channel layers are expressed as their per-row level tables.
std::vector<PackedTensor> pack_lut_layer(const std::string& prefix, const QuantizedLayer& layer);

// What the quantized layers of an output cost on disk: every byte stored for them (codes, scales, zeros,
// tables, indices, outliers, their per-layer schemes) against the number of weights they replace.
struct OutputStats {
  int64_t quantized_weights = 0;
  int64_t quantized_bytes = 0;
  double bits_per_weight() const {
    return quantized_weights ? 8.0 * double(quantized_bytes) / double(quantized_weights) : 0.0;
  }
};

// Each writer records the stats in quantization_config ("effective_bits_per_weight") and returns them.
OutputStats write_gptq(const std::string& out_dir, const WriteRequest& req);
OutputStats write_lut(const std::string& out_dir, const WriteRequest& req);
OutputStats write_sq(const std::string& out_dir, const WriteRequest& req);
// format: "gptq", "lut" or "sq"; anything else is SQ_ERR_INVALID_ARGUMENT.
OutputStats write_output(const std::string& out_dir, const std::string& format, const WriteRequest& req);

}  // namespace sq
