#include "tokenizer/bpe_model.hpp"

#include <cstdio>
#include <queue>

#include "tokenizer/utf8.hpp"

namespace sq::tok {

BpeModel::BpeModel(const json& spec, const JsonPlace& at) : source_(at.source) {
  if (!spec.is_object()) throw_error(SQ_ERR_FORMAT, at.str(), " must be an object");
  const json& vocab = need(spec, "vocab", at);
  if (!vocab.is_object()) throw_error(SQ_ERR_FORMAT, at.child("vocab").str(), " must be an object {token: id}");
  vocab_.reserve(vocab.size());
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX)
      throw_error(SQ_ERR_FORMAT, at.child("vocab").str(), ": token '", it.key(), "' has id ", it.value().dump(),
                  ", expected an integer in [0, 2^31)");
    const auto id = static_cast<int32_t>(it.value().get<int64_t>());
    vocab_[it.key()] = id;
    max_id = std::max<int64_t>(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), nullptr);
  for (const auto& [token, id] : vocab_) id_to_token_[static_cast<size_t>(id)] = &token;

  byte_fallback_ = opt_bool(spec, "byte_fallback", false, at);
  fuse_unk_ = opt_bool(spec, "fuse_unk", false, at);
  ignore_merges_ = opt_bool(spec, "ignore_merges", false, at);
  unk_token_ = opt_string(spec, "unk_token", "", at);
  continuing_subword_prefix_ = opt_string(spec, "continuing_subword_prefix", "", at);
  end_of_word_suffix_ = opt_string(spec, "end_of_word_suffix", "", at);
  if (spec.contains("dropout") && !spec["dropout"].is_null()) {
    const json& d = spec["dropout"];
    if (!d.is_number()) throw_error(SQ_ERR_FORMAT, at.child("dropout").str(), " must be a number or null");
    if (d.get<double>() > 0.0)
      throw_error(SQ_ERR_UNSUPPORTED, at.child("dropout").str(), " is ", d.dump(),
                  ": BPE dropout makes encoding random and is not supported");
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = vocab_.find(name);
    byte_ids_[static_cast<size_t>(b)] = it == vocab_.end() ? -1 : it->second;
  }

  const json& merges = need(spec, "merges", at);
  const JsonPlace mat = at.child("merges");
  if (!merges.is_array()) throw_error(SQ_ERR_FORMAT, mat.str(), " must be an array");
  merges_.reserve(merges.size() * 2);
  const size_t prefix_len = continuing_subword_prefix_.size();
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    std::string a, b;
    if (m.is_string()) {  // "left right"
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        throw_error(SQ_ERR_FORMAT, mat.index(i).str(), " is '", s, "', expected two tokens separated by one space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw_error(SQ_ERR_FORMAT, mat.index(i).str(), " is ", m.dump(), ", expected \"a b\" or [\"a\", \"b\"]");
    }
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end())
      throw_error(SQ_ERR_FORMAT, mat.index(i).str(), ": token '", ia == vocab_.end() ? a : b, "' is not in model.vocab");
    const std::string merged = a + (b.size() >= prefix_len ? b.substr(prefix_len) : std::string());
    auto im = vocab_.find(merged);
    if (im == vocab_.end())
      throw_error(SQ_ERR_FORMAT, mat.index(i).str(), ": merged token '", merged, "' is not in model.vocab");
    // Like the reference, a repeated pair keeps its last rank.
    merges_[pair_key(ia->second, ib->second)] = Merge{static_cast<uint32_t>(i), im->second};
  }

  // A prefix or suffix makes a character's symbol depend on its place in the word: no cutting then.
  can_split_words_ = continuing_subword_prefix_.empty() && end_of_word_suffix_.empty();
  if (can_split_words_) {
    for (const auto& entry : vocab_) {
      const std::string& token = entry.first;
      if (!utf8_is_valid(token)) continue;  // cannot occur in (valid) text
      size_t i = 0;
      char32_t prev = 0;
      for (bool first = true; i < token.size(); first = false) {
        const char32_t cp = utf8_next(token, i);
        if (!first) inner_char_pairs_.insert(char_pair_key(prev, cp));
        prev = cp;
      }
    }
  }
}

std::optional<int32_t> BpeModel::token_to_id(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return id_to_token_[static_cast<size_t>(id)];
}

int32_t BpeModel::unk_id() const {
  auto it = vocab_.find(unk_token_);
  if (it == vocab_.end())
    throw_error(SQ_ERR_FORMAT, source_, ": field 'model.unk_token' is '", unk_token_,
                "', which is not in model.vocab, and the text needs it");
  return it->second;
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {  // a word that is itself a token is emitted whole
    auto it = vocab_.find(std::string(word));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (can_split_words_ && word.size() >= kSplitMinBytes) {
    size_t chunk_begin = 0;
    char32_t prev = 0;
    bool prev_is_token = false;
    std::string ch;
    for (size_t i = 0; i < word.size();) {
      const size_t begin = i;
      const char32_t cp = utf8_next(word, i);
      ch.assign(word.data() + begin, i - begin);
      const bool is_token = vocab_.count(ch) != 0;
      if (prev_is_token && is_token && begin > chunk_begin && !inner_char_pairs_.count(char_pair_key(prev, cp))) {
        merge_cached(word.substr(chunk_begin, begin - chunk_begin), out);
        chunk_begin = begin;
      }
      prev = cp;
      prev_is_token = is_token;
    }
    merge_cached(word.substr(chunk_begin), out);
    return;
  }
  merge_cached(word, out);
}

void BpeModel::merge_cached(std::string_view word, std::vector<int32_t>& out) const {
  const std::string key(word);
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheMaxEntries) cache_.emplace(key, std::vector<int32_t>(out.begin() + first, out.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the list, -1 at the ends
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  auto add = [&](int32_t id) {
    const auto n = static_cast<int32_t>(sym.size());
    sym.push_back({id, n - 1, -1, true});
    if (n > 0) sym[static_cast<size_t>(n - 1)].next = n;
  };

  // 1. One symbol per character (prefix/suffix decorated), else its bytes, else the unknown token.
  int32_t pending_unk = -1;  // an unknown token not yet added (so consecutive ones can be fused)
  std::string piece;
  for (size_t i = 0; i < word.size();) {
    const size_t begin = i;
    i += std::max<size_t>(1, utf8_char_len(static_cast<unsigned char>(word[begin])));
    if (i > word.size()) i = word.size();
    piece.clear();
    if (begin > 0) piece += continuing_subword_prefix_;
    piece.append(word.data() + begin, i - begin);
    if (i == word.size()) piece += end_of_word_suffix_;
    auto it = vocab_.find(piece);
    if (it != vocab_.end()) {
      if (pending_unk >= 0) add(pending_unk), pending_unk = -1;
      add(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : piece) all = all && byte_ids_[b] >= 0;
      if (all) {
        // The reference adds byte tokens without flushing a pending unknown first; keep that order.
        for (unsigned char b : piece) add(byte_ids_[b]);
        continue;
      }
    }
    if (!unk_token_.empty()) {
      const int32_t unk = unk_id();
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = unk;
    }
    // No byte fallback and no unknown token: the character is dropped, as the reference does.
  }
  if (pending_unk >= 0) add(pending_unk);

  // 2. Apply merges lowest rank first, leftmost first among equal ranks.
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  for (size_t k = 0; k + 1 < sym.size(); ++k)
    if (const Merge* m = find_merge(sym[k].id, sym[k + 1].id))
      heap.push({m->rank, static_cast<int32_t>(k), m->new_id});
  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    Symbol& left = sym[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(left.next)];
    // Stale entry: the pair at this position changed since it was queued.
    const Merge* now = find_merge(left.id, right.id);
    if (!now || now->new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0)
      if (const Merge* m = find_merge(sym[static_cast<size_t>(left.prev)].id, left.id))
        heap.push({m->rank, left.prev, m->new_id});
    if (left.next >= 0)
      if (const Merge* m = find_merge(left.id, sym[static_cast<size_t>(left.next)].id))
        heap.push({m->rank, top.pos, m->new_id});
  }
  for (const Symbol& s : sym)
    if (s.alive) out.push_back(s.id);
}

}  // namespace sq::tok
