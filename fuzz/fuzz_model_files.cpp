// libFuzzer target: a model directory. Input parts (see split_parts): config.json, then optionally
// model.safetensors.index.json and the bytes of its two shards. The directory is opened as a model
// (config validation, index weight_map, shard headers) and every small tensor is read.
#include <filesystem>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "io/model_config.hpp"
#include "io/model_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = sqfuzz::split_parts(data, size);
  const std::string dir = sqfuzz::scratch_path("model");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directory(dir);
  sqfuzz::write_file(dir + "/config.json", parts[0]);
  sqfuzz::expect_only_sq_errors("config", [&] { sq::load_model_config(dir + "/config.json"); });
  if (parts.size() < 2) return 0;
  sqfuzz::write_file(dir + "/model.safetensors.index.json", parts[1]);
  const char* const shard_names[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  for (size_t s = 0; s < 2 && s + 2 < parts.size(); ++s) sqfuzz::write_file(dir + "/" + shard_names[s], parts[s + 2]);
  sqfuzz::expect_only_sq_errors("model_files", [&] {
    const sq::ModelFiles model = sq::open_model_files(dir);
    std::vector<float> buf;
    for (size_t i = 0; i < model.weights->tensors().size(); ++i) {
      const uint64_t n = model.weights->tensors()[i].numel();
      if (n > sqfuzz::kMaxDecodeElements) continue;
      buf.resize(size_t(n));
      model.weights->read_f32(i, buf.data());
    }
  });
  return 0;
}
