// tokenizer.json "added_tokens": strings cut out of the text before normalization (normalized=false) or after
// it (normalized=true), matched leftmost-longest, with the single_word / lstrip / rstrip rules of the
// tokenizers library.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/json_fields.hpp"

namespace sq::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A piece of input on its way through the pipeline: either text still to tokenize or an added token's id.
struct Segment {
  std::string text;
  int32_t token_id = -1;  // >= 0: this segment is an added token
  bool at_origin = false;
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is matched for token `tokens[i]`.
  AddedTokenMatcher(std::vector<std::string> patterns, std::vector<const AddedToken*> tokens);
  // Cut `text` into plain segments and token segments.
  void split(const std::string& text, bool at_origin, std::vector<Segment>& out) const;
  bool empty() const { return tokens_.empty(); }

 private:
  struct Node {
    std::unordered_map<unsigned char, int32_t> next;
    int32_t token = -1;  // index into tokens_ when a pattern ends here
  };
  std::vector<Node> trie_;
  std::vector<const AddedToken*> tokens_;
  bool first_byte_[256] = {};
};

// Parse the "added_tokens" array.
std::vector<AddedToken> parse_added_tokens(const json& spec, const JsonPlace& at);

}  // namespace sq::tok
