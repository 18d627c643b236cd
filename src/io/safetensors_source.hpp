// WeightSource over memory-mapped safetensors: one file, or the shards of model.safetensors.index.json.
#pragma once
#include <memory>
#include <string>

#include "io/weight_source.hpp"

namespace sq {

// Every header field is validated against the file size; errors name the file and the tensor.
std::unique_ptr<WeightSource> open_safetensors_file(const std::string& path);
// index.json's weight_map names shard files relative to the index's directory.
std::unique_ptr<WeightSource> open_safetensors_index(const std::string& index_json_path);

}  // namespace sq
