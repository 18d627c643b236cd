// The ways a pre-tokenizer cuts a piece of text around pattern matches (tokenizers' SplitDelimiterBehavior).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.hpp"

namespace sq::tok {

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Parse "Removed", "Isolated", ... ; SQ_ERR_FORMAT naming `where` otherwise.
SplitBehavior parse_split_behavior(const std::string& name, const std::string& where);

// Given the sorted matches of a pattern in a text of `len` bytes, the spans that remain as pieces (empty ones
// included: callers drop them). `invert` swaps which spans count as matches.
std::vector<Span> split_spans(size_t len, const std::vector<Span>& matches, SplitBehavior behavior, bool invert);

// Every non-overlapping occurrence of a literal string, leftmost first.
std::vector<Span> find_literal(std::string_view text, std::string_view needle);

}  // namespace sq::tok
