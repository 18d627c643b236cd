// GGUF (llama.cpp) models: metadata, tensor infos and block dequantization, presented as a Hugging Face
// model: tensors renamed (blk.N.attn_q -> model.layers.N.self_attn.q_proj, ...), shapes in [out, in]
// order, Q/K rows un-permuted, plus config.json and tokenizer.json rebuilt from the metadata.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "io/weight_source.hpp"

namespace sq {

struct GgufModel {
  std::unique_ptr<WeightSource> weights;
  nlohmann::json config;       // Hugging Face config.json equivalent
  std::string tokenizer_json;  // Hugging Face tokenizer.json equivalent ("" if the tokenizer type is unsupported)
  std::string tokenizer_note;  // why tokenizer_json is empty or approximate ("" when there is nothing to say)
};

GgufModel open_gguf_model(const std::string& path);

}  // namespace sq
