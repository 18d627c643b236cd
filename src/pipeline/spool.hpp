// Per-block files of quantized layers (the job's results so far, and part of its resume checkpoint).
// Block i's layers live in "<dir>/block_<i>.safetensors": the sq layer codec's payloads as U8 tensors and
// their schemes in __metadata__. Written atomically, so a block file is complete or absent.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/layer_codec.hpp"
#include "quant/quantized_layer.hpp"

namespace sq {

std::string spool_block_path(const std::string& dir, int64_t block);

// layers: (tensor prefix, e.g. "model.layers.0.self_attn.q_proj", layer), in a fixed order.
void write_spool_block(const std::string& path, const std::vector<std::pair<std::string, QuantizedLayer>>& layers);
// The same from layers already encoded (encode_layer), so a caller can drop each layer as soon as it is encoded.
void write_spool_block(const std::string& path, const std::vector<std::pair<std::string, EncodedLayer>>& encoded);

// The __metadata__ object of a safetensors file (empty object when absent); reads only the header.
nlohmann::json read_safetensors_metadata(const std::string& path);

// Layer prefixes and schemes held by a spool / sq file, in file order.
std::vector<std::pair<std::string, nlohmann::json>> list_sq_layers(const std::string& path);

// Visit every layer of an sq / spool file, decoded (one at a time).
void for_each_sq_layer(const std::string& path,
                       const std::function<void(const std::string& prefix, const QuantizedLayer&)>& fn);

}  // namespace sq
