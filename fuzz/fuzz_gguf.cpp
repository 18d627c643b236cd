// libFuzzer target: one .gguf file. The container is parsed (metadata, tensor infos), every small tensor is
// dequantized, and the file is then opened as a model (config and tokenizer from metadata, renamed and
// un-permuted weights).
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "io/gguf_dequant.hpp"
#include "io/gguf_reader.hpp"
#include "io/model_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sqfuzz::scratch_path("input.gguf");
  sqfuzz::write_file(path, {reinterpret_cast<const char*>(data), size});
  sqfuzz::expect_only_sq_errors("gguf", [&] {
    const sq::GgufFile file(path);
    std::vector<float> buf;
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      const auto& t = file.tensors()[i];
      if (sq::ggml_type_to_dtype(t.ggml_type) < 0 || t.numel() > sqfuzz::kMaxDecodeElements) continue;
      buf.resize(size_t(t.numel()));
      sqfuzz::expect_only_sq_errors("gguf_dequantize", [&] {
        sq::gguf_dequantize(t.dtype, file.tensor_data(i), buf.data(), buf.size());
      });
    }
  });
  sqfuzz::expect_only_sq_errors("gguf model", [&] {
    const sq::ModelFiles model = sq::open_model_files(path);
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
