// tokenizer.json "normalizer": text rewrites applied to each piece between added tokens.
// Supported: Sequence, Prepend, Replace (String or Regex), NFC, NFD, NFKC, NFKD, Strip, Lowercase.
#pragma once
#include <memory>
#include <string>

#include "tokenizer/json_fields.hpp"

namespace sq::tok {

class Regex;

// A "pattern" member, {"String": "..."} or {"Regex": "..."}: fills `literal` or `regex`.
void parse_pattern(const json& spec, const JsonPlace& at, std::string& literal, std::unique_ptr<Regex>& regex);

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // `text` is valid UTF-8 and stays so.
  virtual void normalize(std::string& text) const = 0;
};

// nullptr for a JSON null; SQ_ERR_UNSUPPORTED for a type this build does not implement.
std::unique_ptr<Normalizer> make_normalizer(const json& spec, const JsonPlace& at);

}  // namespace sq::tok
