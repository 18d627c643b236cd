// tokenizer.json "decoder": turns token strings back into text.
// Supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_fields.hpp"

namespace sq::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrite the list of token strings (a step may merge them); the result is their concatenation.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const json& spec, const JsonPlace& at);

}  // namespace sq::tok
