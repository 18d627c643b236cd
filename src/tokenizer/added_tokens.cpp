#include "tokenizer/added_tokens.hpp"

#include <algorithm>

#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace sq::tok {

namespace {
// Start of the last character of s[0..end).
size_t prev_char_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}
bool ends_with_word(std::string_view s, size_t end) {
  if (end == 0) return false;
  size_t i = prev_char_start(s, end);
  return is_alphanumeric(utf8_next(s, i));
}
bool starts_with_word(std::string_view s, size_t begin) {
  if (begin >= s.size()) return false;
  return is_alphanumeric(utf8_next(s, begin));
}
}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<std::string> patterns, std::vector<const AddedToken*> tokens)
    : tokens_(std::move(tokens)) {
  trie_.emplace_back();
  for (size_t t = 0; t < patterns.size(); ++t) {
    const std::string& p = patterns[t];
    if (p.empty()) continue;
    first_byte_[static_cast<unsigned char>(p[0])] = true;
    int32_t node = 0;
    for (unsigned char c : p) {
      auto it = trie_[static_cast<size_t>(node)].next.find(c);
      if (it == trie_[static_cast<size_t>(node)].next.end()) {
        trie_.emplace_back();
        const auto child = static_cast<int32_t>(trie_.size() - 1);
        trie_[static_cast<size_t>(node)].next.emplace(c, child);
        node = child;
      } else {
        node = it->second;
      }
    }
    // Two tokens with the same text: the first one listed wins.
    if (trie_[static_cast<size_t>(node)].token < 0) trie_[static_cast<size_t>(node)].token = static_cast<int32_t>(t);
  }
}

void AddedTokenMatcher::split(const std::string& text, bool at_origin, std::vector<Segment>& out) const {
  auto emit_text = [&](size_t b, size_t e) {
    if (e > b) out.push_back({text.substr(b, e - b), -1, at_origin && b == 0});
  };
  if (tokens_.empty()) {
    emit_text(0, text.size());
    return;
  }
  size_t done = 0;  // text before this offset has been emitted
  size_t pos = 0;
  while (pos < text.size()) {
    // Leftmost-longest: the earliest start with any match, the longest pattern there.
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t k = pos; k < text.size(); ++k) {
      const auto& next = trie_[static_cast<size_t>(node)].next;
      auto it = next.find(static_cast<unsigned char>(text[k]));
      if (it == next.end()) break;
      node = it->second;
      if (trie_[static_cast<size_t>(node)].token >= 0) best = trie_[static_cast<size_t>(node)].token, best_end = k + 1;
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = *tokens_[static_cast<size_t>(best)];
    size_t start = pos, stop = best_end;
    if (tok.single_word) {
      const bool space_before = start == 0 || !ends_with_word(text, start);
      const bool space_after = stop == text.size() || !starts_with_word(text, stop);
      if (!space_before || !space_after) {
        pos = best_end;  // the matcher does not look for other matches inside a discarded one
        continue;
      }
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > done) {
        size_t c = prev_char_start(text, s), i = c;
        if (!is_whitespace(utf8_next(text, i))) break;
        s = c;
      }
      start = std::max(s, done);
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t i = stop;
        if (!is_whitespace(utf8_next(text, i))) break;
        stop = i;
      }
    }
    emit_text(done, start);
    out.push_back({std::string(), tok.id, false});
    done = stop;
    pos = stop;
  }
  emit_text(done, text.size());
}

std::vector<AddedToken> parse_added_tokens(const json& spec, const JsonPlace& at) {
  std::vector<AddedToken> tokens;
  if (spec.is_null()) return tokens;
  if (!spec.is_array()) throw_error(SQ_ERR_FORMAT, at.str(), " must be an array");
  for (size_t i = 0; i < spec.size(); ++i) {
    const JsonPlace here = at.index(i);
    const json& t = spec[i];
    AddedToken a;
    const long long id = opt_int(t, "id", -1, here);
    if (id < 0 || id > INT32_MAX) throw_error(SQ_ERR_FORMAT, here.child("id").str(), " must be an integer in [0, 2^31)");
    a.id = static_cast<int32_t>(id);
    a.content = need_string(t, "content", here);
    if (a.content.empty()) throw_error(SQ_ERR_FORMAT, here.child("content").str(), " must not be empty");
    a.special = opt_bool(t, "special", false, here);
    a.lstrip = opt_bool(t, "lstrip", false, here);
    a.rstrip = opt_bool(t, "rstrip", false, here);
    a.single_word = opt_bool(t, "single_word", false, here);
    a.normalized = opt_bool(t, "normalized", !a.special, here);
    tokens.push_back(std::move(a));
  }
  return tokens;
}

}  // namespace sq::tok
