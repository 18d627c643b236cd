// libFuzzer target: one .safetensors file (header JSON, offsets, dtypes, shapes), then every small tensor
// read back as fp32.
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "io/safetensors_source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sqfuzz::scratch_path("input.safetensors");
  sqfuzz::write_file(path, {reinterpret_cast<const char*>(data), size});
  sqfuzz::expect_only_sq_errors("safetensors", [&] {
    const auto source = sq::open_safetensors_file(path);
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
