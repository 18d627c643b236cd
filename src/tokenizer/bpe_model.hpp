// The tokenizer.json "model" of type BPE: vocabulary, ranked merges, byte fallback and unknown-token rules.
// Merging runs over a linked list of symbols driven by a min-heap of (rank, position), so one long word
// (SentencePiece-style tokenizers hand the model whole lines) costs O(n log n); short words are cached.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/json_fields.hpp"

namespace sq::tok {

class BpeModel {
 public:
  // `spec` is the "model" object. Throws SQ_ERR_FORMAT / SQ_ERR_UNSUPPORTED naming the field at fault.
  BpeModel(const json& spec, const JsonPlace& at);

  // Append the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(const std::string& token) const;
  // nullptr when no token has this id.
  const std::string* id_to_token(int32_t id) const;
  // Largest id + 1.
  size_t id_space() const { return id_to_token_.size(); }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* find_merge(int32_t a, int32_t b) const {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_cached(std::string_view word, std::vector<int32_t>& out) const;
  static uint64_t char_pair_key(char32_t a, char32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
  int32_t unk_id() const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<const std::string*> id_to_token_;  // points at vocab_ keys (stable in unordered_map)
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_ids_{};  // "<0xXX>" tokens for byte fallback, -1 when absent
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::string unk_token_;  // "" when the model has none
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  std::string source_;

  // Long words (SentencePiece-style models see whole lines) are cut where no merge can ever reach across:
  // between two characters that are tokens themselves and that no vocabulary token holds side by side.
  // Each chunk then merges exactly as it would inside the whole word, and short chunks hit the cache.
  static constexpr size_t kSplitMinBytes = 64;
  bool can_split_words_ = false;
  std::unordered_set<uint64_t> inner_char_pairs_;

  static constexpr size_t kCacheMaxWordBytes = 256;
  static constexpr size_t kCacheMaxEntries = 200000;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace sq::tok
