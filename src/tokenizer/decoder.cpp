#include "tokenizer/decoder.hpp"

#include <unordered_map>

#include "tokenizer/normalizer.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/split.hpp"
#include "tokenizer/utf8.hpp"

namespace sq::tok {

namespace {

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

class ByteLevelDecoder : public Decoder {
 public:
  ByteLevelDecoder() {
    for (int b = 0; b < 256; ++b) {
      const std::string& s = byte_level_char(static_cast<unsigned char>(b));
      size_t i = 0;
      char_to_byte_[utf8_next(s, i)] = static_cast<unsigned char>(b);
    }
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      // A token made only of byte characters stands for those bytes; any other token is kept as written.
      std::string mapped;
      bool all = true;
      for (size_t i = 0; i < t.size() && all;) {
        auto it = char_to_byte_.find(utf8_next(t, i));
        if (it == char_to_byte_.end()) all = false;
        else mapped.push_back(static_cast<char>(it->second));
      }
      bytes += all ? mapped : t;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }

 private:
  std::unordered_map<char32_t, unsigned char> char_to_byte_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string literal, std::unique_ptr<Regex> regex, std::string content)
      : literal_(std::move(literal)), regex_(std::move(regex)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      const std::vector<Span> hits = regex_ ? regex_->find_all(t) : find_literal(t, literal_);
      if (hits.empty()) continue;
      std::string out;
      size_t prev = 0;
      for (const Span& h : hits) {
        out.append(t, prev, h.first - prev);
        out += content_;
        prev = h.second;
      }
      out.append(t, prev, std::string::npos);
      t.swap(out);
    }
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;  // bytes of consecutive <0xXX> tokens
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (utf8_is_valid(pending)) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending_count; ++k) out.emplace_back("\xEF\xBF\xBD");  // one U+FFFD per byte
      }
      pending.clear();
      pending_count = 0;
    };
    for (std::string& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') byte = parse_hex(t[3], t[4]);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static int parse_hex(char hi, char lo) {
    const int h = hex(hi), l = hex(lo);
    return (h < 0 || l < 0) ? -1 : h * 16 + l;
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, all);
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<size_t> starts;  // byte offset of each character
      for (size_t i = 0; i < t.size();) {
        starts.push_back(i);
        utf8_next(t, i);
      }
      auto char_at = [&](size_t k) {
        size_t i = starts[k];
        return utf8_next(t, i);
      };
      const size_t n = starts.size();
      size_t cut_front = 0, cut_back = n;
      for (size_t k = 0; k < start_ && k < n && char_at(k) == content_; ++k) cut_front = k + 1;
      for (size_t k = 0; k < stop_ && k < n && char_at(n - 1 - k) == content_; ++k) cut_back = n - 1 - k;
      if (cut_back <= cut_front) {
        t.clear();
      } else {
        const size_t b = starts[cut_front], e = cut_back < n ? starts[cut_back] : t.size();
        t = t.substr(b, e - b);
      }
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool strip_first) : replacement_(replacement), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string out;
      const std::string& t = tokens[k];
      for (size_t i = 0; i < t.size();) {
        const size_t b = i;
        const char32_t c = utf8_next(t, i);
        if (c == replacement_) {
          if (!(k == 0 && strip_first_)) out.push_back(' ');
        } else {
          out.append(t, b, i - b);
        }
      }
      tokens[k].swap(out);
    }
  }

 private:
  char32_t replacement_;
  bool strip_first_;
};

char32_t single_char(const std::string& s, const JsonPlace& at) {
  size_t i = 0;
  if (s.empty() || !utf8_is_valid(s)) throw_error(SQ_ERR_FORMAT, at.str(), " must be exactly one character");
  const char32_t c = utf8_next(s, i);
  if (i != s.size()) throw_error(SQ_ERR_FORMAT, at.str(), " must be exactly one character");
  return c;
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& spec, const JsonPlace& at) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec, at);
  if (type == "Sequence") {
    const json& list = need(spec, "decoders", at);
    if (!list.is_array()) throw_error(SQ_ERR_FORMAT, at.child("decoders").str(), " must be an array");
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto d = make_decoder(list[i], at.child("decoders").index(i));
      if (d) parts.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    std::string literal;
    std::unique_ptr<Regex> regex;
    parse_pattern(need(spec, "pattern", at), at.child("pattern"), literal, regex);
    return std::make_unique<ReplaceDecoder>(literal, std::move(regex), need_string(spec, "content", at));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const long long start = opt_int(spec, "start", 0, at), stop = opt_int(spec, "stop", 0, at);
    if (start < 0 || stop < 0) throw_error(SQ_ERR_FORMAT, at.str(), ": start and stop must not be negative");
    return std::make_unique<StripDecoder>(single_char(need_string(spec, "content", at), at.child("content")),
                                          static_cast<size_t>(start), static_cast<size_t>(stop));
  }
  if (type == "Metaspace") {
    const char32_t rep = single_char(need_string(spec, "replacement", at), at.child("replacement"));
    bool strip_first = opt_bool(spec, "add_prefix_space", true, at);
    if (spec.contains("prepend_scheme") && !spec["prepend_scheme"].is_null())
      strip_first = need_string(spec, "prepend_scheme", at) != "never";
    return std::make_unique<MetaspaceDecoder>(rep, strip_first);
  }
  throw_error(SQ_ERR_UNSUPPORTED, at.child("type").str(), ": decoder '", type,
              "' is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace)");
}

}  // namespace sq::tok
