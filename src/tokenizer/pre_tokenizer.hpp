// tokenizer.json "pre_tokenizer": cuts normalized text into the words the BPE model sees.
// Supported: Sequence, ByteLevel, Split, Digits, Metaspace, WhitespaceSplit.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_fields.hpp"

namespace sq::tok {

struct Piece {
  std::string text;
  bool at_origin = false;  // starts at byte 0 of the input (Metaspace's prepend_scheme "first" asks)
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replace `pieces` by their sub-pieces; empty pieces are dropped.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const JsonPlace& at);

// GPT-2's byte-to-character table: byte b is written as the UTF-8 of bytes_to_unicode(b).
const std::string& byte_level_char(unsigned char b);

}  // namespace sq::tok
