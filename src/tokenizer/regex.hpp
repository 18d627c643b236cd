// PCRE2-backed regular expressions with the semantics the tokenizers library gets from Oniguruma:
// UTF-8, Unicode properties (\p{L}, \p{N}), and \s / \S meaning the Unicode White_Space property
// (Oniguruma counts U+0085 as space, PCRE2's UCP \s does not, so the pattern is rewritten).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sq::tok {

using Span = std::pair<size_t, size_t>;  // [begin, end) byte offsets

class Regex {
 public:
  // Throws SQ_ERR_FORMAT naming `where` (e.g. "file 'x': pre_tokenizer.pattern.Regex") when it does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches, leftmost first; an empty match is reported and the search moves on by one
  // character. `text` must be valid UTF-8.
  std::vector<Span> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
};

// Rewrite \s and \S into explicit White_Space classes (exposed for tests).
std::string translate_whitespace_classes(const std::string& pattern);

}  // namespace sq::tok
