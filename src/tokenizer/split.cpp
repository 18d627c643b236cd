#include "tokenizer/split.hpp"

#include <algorithm>
#include <utility>

#include "util/error.hpp"

namespace sq::tok {

SplitBehavior parse_split_behavior(const std::string& name, const std::string& where) {
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  throw_error(SQ_ERR_FORMAT, where, ": unknown split behavior '", name,
              "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

std::vector<Span> find_literal(std::string_view text, std::string_view needle) {
  std::vector<Span> out;
  if (needle.empty()) return out;
  for (size_t pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos + needle.size()))
    out.emplace_back(pos, pos + needle.size());
  return out;
}

std::vector<Span> split_spans(size_t len, const std::vector<Span>& matches, SplitBehavior behavior, bool invert) {
  // 1. Cover the whole text with (span, is_match) in order.
  std::vector<std::pair<Span, bool>> parts;
  if (len == 0) {
    parts.push_back({{0, 0}, false});
  } else {
    size_t prev = 0;
    for (const Span& m : matches) {
      if (prev != m.first) parts.push_back({{prev, m.first}, false});
      parts.push_back({m, true});
      prev = m.second;
    }
    if (prev != len) parts.push_back({{prev, len}, false});
  }
  if (invert)
    for (auto& p : parts) p.second = !p.second;

  // 2. Decide what to keep and what to glue together.
  std::vector<Span> out;
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (auto& p : parts) out.push_back(p.first);
      break;
    case SplitBehavior::Removed:
      for (auto& p : parts)
        if (!p.second) out.push_back(p.first);
      break;
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (auto& p : parts) {
        if (p.second == previous_match && !out.empty()) out.back().second = p.first.second;
        else out.push_back(p.first);
        previous_match = p.second;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (auto& p : parts) {
        if (p.second && !previous_match && !out.empty()) out.back().second = p.first.second;
        else out.push_back(p.first);
        previous_match = p.second;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->second && !previous_match && !out.empty()) out.back().first = it->first.first;
        else out.push_back(it->first);
        previous_match = it->second;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  return out;
}

}  // namespace sq::tok
