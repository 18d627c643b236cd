// libFuzzer target: a quantized output directory as eval reads it back (GPTQ v1/v2, LUT or sq container).
// Input parts: config.json (with its quantization_config), then model.safetensors. Every small tensor
// is dequantized.
#include <filesystem>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "pipeline/reader_quantized.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = sqfuzz::split_parts(data, size);
  if (parts.size() < 2) return 0;
  const std::string dir = sqfuzz::scratch_path("quantized");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directory(dir);
  sqfuzz::write_file(dir + "/config.json", parts[0]);
  sqfuzz::write_file(dir + "/model.safetensors", parts[1]);
  sqfuzz::expect_only_sq_errors("quantized_reader", [&] {
    const auto source = sq::open_quantized_weights(dir);
    if (!source) return;
    std::vector<float> buf;
    for (size_t i = 0; i < source->tensors().size(); ++i) {
      const uint64_t n = source->tensors()[i].numel();
      if (n > sqfuzz::kMaxDecodeElements) continue;
      buf.resize(size_t(n));
      source->read_f32(i, buf.data());
    }
  });
  return 0;
}
