// Opening a model path: a Hugging Face directory (single or sharded safetensors), a lone .safetensors
// file, or a .gguf file. The result bundles the weights, the config and the tokenizer.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/model_config.hpp"
#include "io/weight_source.hpp"

namespace sq {

struct ModelFiles {
  std::string path;                       // as given by the user
  std::string dir;                        // directory holding config/tokenizer files ("" if none)
  std::unique_ptr<WeightSource> weights;
  std::optional<ModelConfig> config;      // absent for a lone .safetensors without config.json
  std::string tokenizer_json;             // tokenizer.json text (read from dir, or built from GGUF metadata)
  std::vector<std::string> side_files;    // paths (model dir joined) of tokenizer_config.json, ... to copy to outputs
};

ModelFiles open_model_files(const std::string& path);

// A model directory whose weights come from elsewhere (e.g. a quantized output read back dequantized):
// config.json, tokenizer and side files are read from `dir` as for a plain model directory.
ModelFiles open_model_dir_with_weights(const std::string& dir, std::unique_ptr<WeightSource> weights);

}  // namespace sq
