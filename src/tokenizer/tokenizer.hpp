// A Hugging Face tokenizer.json with a BPE model: encode text to ids and decode ids to text, giving the same
// ids as the `tokenizers` library. Invalid UTF-8 input is first repaired (each invalid sequence becomes
// U+FFFD, as Rust's from_utf8_lossy does). Safe to use from several threads at once.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.hpp"

namespace sq::tok {

class BpeModel;
class Normalizer;
class PreTokenizer;
class PostProcessor;
class Decoder;

class Tokenizer {
 public:
  // Parse tokenizer.json text; `source` names it in errors (e.g. "tokenizer 'dir/tokenizer.json'").
  static std::unique_ptr<Tokenizer> from_json(std::string_view text, const std::string& source);
  // Read a tokenizer.json file (a .zst-compressed one too).
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // Unknown ids are SQ_ERR_INVALID_ARGUMENT. With skip_special, special added tokens are left out.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const;

  // Largest id of the model vocabulary or the added tokens, plus one.
  size_t vocab_size() const;
  std::optional<int32_t> token_to_id(const std::string& token) const;
  // nullptr when no token has this id.
  const std::string* id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;

 private:
  Tokenizer() = default;

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<AddedToken> added_;
  std::unordered_map<int32_t, size_t> added_by_id_;
  std::unordered_map<std::string, int32_t> added_by_content_;
  std::unique_ptr<AddedTokenMatcher> raw_matcher_;         // tokens with normalized = false
  std::unique_ptr<AddedTokenMatcher> normalized_matcher_;  // tokens with normalized = true
};

}  // namespace sq::tok
