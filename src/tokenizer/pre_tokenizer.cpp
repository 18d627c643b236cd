#include "tokenizer/pre_tokenizer.hpp"

#include <array>

#include "tokenizer/normalizer.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/split.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace sq::tok {

namespace {

// The GPT-2 pattern the ByteLevel pre-tokenizer uses when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Cut every piece at the spans `find` reports, keeping what `behavior` keeps.
template <typename Find>
void split_pieces(std::vector<Piece>& pieces, SplitBehavior behavior, bool invert, Find&& find) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& p : pieces) {
    const std::vector<Span> spans = split_spans(p.text.size(), find(p.text), behavior, invert);
    for (const Span& s : spans) {
      if (s.second == s.first) continue;
      out.push_back({p.text.substr(s.first, s.second - s.first), p.at_origin && s.first == 0});
    }
  }
  pieces.swap(out);
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_)
      for (Piece& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, " ");
    if (regex_)
      split_pieces(pieces, SplitBehavior::Isolated, false, [&](const std::string& t) { return regex_->find_all(t); });
    for (Piece& p : pieces) {
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      for (unsigned char b : p.text) mapped += byte_level_char(b);
      p.text.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::string literal, std::unique_ptr<Regex> regex, SplitBehavior behavior, bool invert)
      : literal_(std::move(literal)), regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, behavior_, invert_, [&](const std::string& t) {
      return regex_ ? regex_->find_all(t) : find_literal(t, literal_);
    });
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  // Rust's char::is_numeric is the N general category; each digit is its own match, and Contiguous glues runs.
  explicit DigitsPreTokenizer(bool individual)
      : behavior_(individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous), digit_(R"(\p{N})", "Digits") {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, behavior_, false, [&](const std::string& t) { return digit_.find_all(t); });
  }

 private:
  SplitBehavior behavior_;
  Regex digit_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  MetaspacePreTokenizer(std::string replacement, Prepend scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (Piece& p : pieces) {
      std::string replaced;
      replaced.reserve(p.text.size() + replacement_.size());
      for (char c : p.text) {
        if (c == ' ') replaced += replacement_;
        else replaced += c;
      }
      const bool starts = replaced.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts && (scheme_ == Prepend::Always || (scheme_ == Prepend::First && p.at_origin)))
        replaced.insert(0, replacement_);
      p.text.swap(replaced);
    }
    if (split_)
      split_pieces(pieces, SplitBehavior::MergedWithNext, false,
                   [&](const std::string& t) { return find_literal(t, replacement_); });
  }

 private:
  std::string replacement_;
  Prepend scheme_;
  bool split_;
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, SplitBehavior::Removed, false, [](const std::string& t) {
      std::vector<Span> spans;
      for (size_t i = 0; i < t.size();) {
        const size_t b = i;
        if (is_whitespace(utf8_next(t, i))) spans.emplace_back(b, i);
      }
      return spans;
    });
  }
};

}  // namespace

const std::string& byte_level_char(unsigned char b) {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    char32_t next_free = 256;
    for (int i = 0; i < 256; ++i) {
      // Printable Latin-1 bytes stand for themselves; the rest are shifted past U+00FF in byte order.
      const bool printable = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF);
      utf8_append(t[i], printable ? static_cast<char32_t>(i) : next_free++);
    }
    return t;
  }();
  return table[b];
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const JsonPlace& at) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec, at);
  if (type == "Sequence") {
    const json& list = need(spec, "pretokenizers", at);
    if (!list.is_array()) throw_error(SQ_ERR_FORMAT, at.child("pretokenizers").str(), " must be an array");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], at.child("pretokenizers").index(i));
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(opt_bool(spec, "add_prefix_space", true, at),
                                                   opt_bool(spec, "use_regex", true, at));
  if (type == "Split") {
    std::string literal;
    std::unique_ptr<Regex> regex;
    parse_pattern(need(spec, "pattern", at), at.child("pattern"), literal, regex);
    const SplitBehavior behavior = parse_split_behavior(need_string(spec, "behavior", at), at.child("behavior").str());
    return std::make_unique<SplitPreTokenizer>(literal, std::move(regex), behavior, opt_bool(spec, "invert", false, at));
  }
  if (type == "Digits") return std::make_unique<DigitsPreTokenizer>(opt_bool(spec, "individual_digits", false, at));
  if (type == "Metaspace") {
    const std::string replacement = need_string(spec, "replacement", at);
    size_t i = 0;
    if (replacement.empty() || !utf8_is_valid(replacement) || (utf8_next(replacement, i), i != replacement.size()))
      throw_error(SQ_ERR_FORMAT, at.child("replacement").str(), " must be exactly one character");
    MetaspacePreTokenizer::Prepend scheme = MetaspacePreTokenizer::Prepend::Always;
    if (spec.contains("prepend_scheme") && !spec["prepend_scheme"].is_null()) {
      const std::string s = need_string(spec, "prepend_scheme", at);
      if (s == "always") scheme = MetaspacePreTokenizer::Prepend::Always;
      else if (s == "first") scheme = MetaspacePreTokenizer::Prepend::First;
      else if (s == "never") scheme = MetaspacePreTokenizer::Prepend::Never;
      else throw_error(SQ_ERR_FORMAT, at.child("prepend_scheme").str(), " must be always, first or never; got '", s, "'");
    } else if (!opt_bool(spec, "add_prefix_space", true, at)) {
      scheme = MetaspacePreTokenizer::Prepend::Never;  // the older spelling of the same setting
    }
    return std::make_unique<MetaspacePreTokenizer>(replacement, scheme, opt_bool(spec, "split", true, at));
  }
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  throw_error(SQ_ERR_UNSUPPORTED, at.child("type").str(), ": pre-tokenizer '", type,
              "' is not supported (supported: Sequence, ByteLevel, Split, Digits, Metaspace, WhitespaceSplit)");
}

}  // namespace sq::tok
