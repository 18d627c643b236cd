#include "tokenizer/normalizer.hpp"

#include <unicode/casemap.h>
#include <unicode/bytestream.h>

#include <vector>

#include "tokenizer/regex.hpp"
#include "tokenizer/split.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/utf8.hpp"

namespace sq::tok {

namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(std::string& text) const override {
    for (const auto& p : parts_) p->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  // The tokenizers library prepends only to non-empty text.
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string literal, std::unique_ptr<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    const std::vector<Span> hits = regex_ ? regex_->find_all(text) : find_literal(text, literal_);
    if (hits.empty()) return;
    std::string out;
    out.reserve(text.size() + hits.size() * content_.size());
    size_t prev = 0;
    for (const Span& h : hits) {
      out.append(text, prev, h.first - prev);
      out += content_;
      prev = h.second;
    }
    out.append(text, prev, std::string::npos);
    text.swap(out);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void normalize(std::string& text) const override { text = unicode_normalize(text, form_); }

 private:
  NormalForm form_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        size_t i = begin;
        if (!is_whitespace(utf8_next(text, i))) break;
        begin = i;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!is_whitespace(utf8_next(text, i))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    UErrorCode status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out);
    icu::CaseMap::utf8ToLower("", 0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink,
                              nullptr, status);
    if (U_FAILURE(status)) throw_error(SQ_ERR_INTERNAL, "Lowercase normalizer failed: ", u_errorName(status));
    text.swap(out);
  }
};

}  // namespace

// Shared with the Split pre-tokenizer: {"String": "..."} or {"Regex": "..."}.
void parse_pattern(const json& spec, const JsonPlace& at, std::string& literal, std::unique_ptr<Regex>& regex) {
  if (!spec.is_object()) throw_error(SQ_ERR_FORMAT, at.str(), " must be {\"String\": ...} or {\"Regex\": ...}");
  if (spec.contains("String")) {
    literal = need_string(spec, "String", at);
  } else if (spec.contains("Regex")) {
    regex = std::make_unique<Regex>(need_string(spec, "Regex", at), at.child("Regex").str());
  } else {
    throw_error(SQ_ERR_FORMAT, at.str(), " must be {\"String\": ...} or {\"Regex\": ...}");
  }
}

std::unique_ptr<Normalizer> make_normalizer(const json& spec, const JsonPlace& at) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec, at);
  if (type == "Sequence") {
    const json& list = need(spec, "normalizers", at);
    if (!list.is_array()) throw_error(SQ_ERR_FORMAT, at.child("normalizers").str(), " must be an array");
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto n = make_normalizer(list[i], at.child("normalizers").index(i));
      if (n) parts.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(need_string(spec, "prepend", at));
  if (type == "Replace") {
    std::string literal;
    std::unique_ptr<Regex> regex;
    parse_pattern(need(spec, "pattern", at), at.child("pattern"), literal, regex);
    return std::make_unique<ReplaceNormalizer>(literal, std::move(regex), need_string(spec, "content", at));
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKD);
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(opt_bool(spec, "strip_left", false, at), opt_bool(spec, "strip_right", true, at));
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  throw_error(SQ_ERR_UNSUPPORTED, at.child("type").str(), ": normalizer '", type,
              "' is not supported (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Strip, Lowercase)");
}

}  // namespace sq::tok
