// Rebuilds a Hugging Face tokenizer.json from the tokenizer.ggml.* metadata of a GGUF file.
#pragma once
#include <string>

namespace sq {

class GgufFile;

struct GgufTokenizer {
  std::string json;  // tokenizer.json text; "" when the tokenizer type is not supported
  std::string note;  // why json is empty, or what was approximated; "" when nothing to say
};

// Supports tokenizer.ggml.model "gpt2" (byte-level BPE) with the pre-tokenizers "default"/"gpt2",
// "smollm", "llama-bpe"/"llama3" and "qwen2". Malformed metadata gives SQ_ERR_FORMAT naming the key.
GgufTokenizer build_tokenizer_json(const GgufFile& file);

}  // namespace sq
