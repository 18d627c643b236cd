// Unit tests for the tokenizer.json BPE tokenizer: the merge core, the pipeline parts, and hostile files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/split.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"
#include "util/error.hpp"

using sq::tok::Tokenizer;
using nlohmann::json;

namespace {

// A small character-level BPE: vocab a b c d ab bc abc aa, no pre-tokenizer unless given.
json tiny_spec() {
  return json::parse(R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "d": 3, "ab": 4, "bc": 5, "abc": 6, "aa": 7},
              "merges": ["a b", "ab c", "a a"]},
    "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null})");
}

std::unique_ptr<Tokenizer> load(const json& spec) { return Tokenizer::from_json(spec.dump(), "tokenizer 'test.json'"); }

std::vector<int32_t> ids(const Tokenizer& t, const std::string& text, bool special = false) {
  return t.encode(text, special);
}

// Load must fail with `code` and a message holding every one of `parts`.
void expect_load_error(const std::string& text, int32_t code, const std::vector<std::string>& parts) {
  try {
    Tokenizer::from_json(text, "tokenizer 'hostile.json'");
    FAIL() << "loading succeeded: " << text.substr(0, 200);
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
  }
}

}  // namespace

TEST(TokenizerBpe, MergesByRankThenLeftmost) {
  auto t = load(tiny_spec());
  EXPECT_EQ(ids(*t, "abc"), (std::vector<int32_t>{6}));
  EXPECT_EQ(ids(*t, "aaa"), (std::vector<int32_t>{7, 0}));  // equal ranks: leftmost pair first
  EXPECT_EQ(ids(*t, "abcabc"), (std::vector<int32_t>{6, 6}));
  EXPECT_EQ(ids(*t, "dab"), (std::vector<int32_t>{3, 4}));
  EXPECT_TRUE(ids(*t, "").empty());
}

TEST(TokenizerBpe, LowerRankWinsOverPosition) {
  json spec = tiny_spec();
  spec["model"]["merges"] = json::array({"b c", "a b", "ab c"});  // "b c" first: a + bc, no "a bc" merge
  auto t = load(spec);
  EXPECT_EQ(ids(*t, "abc"), (std::vector<int32_t>{0, 5}));
}

TEST(TokenizerBpe, PairFormMergesEqualStringForm) {
  json spec = tiny_spec();
  spec["model"]["merges"] = json::array({json::array({"a", "b"}), json::array({"ab", "c"}), json::array({"a", "a"})});
  auto pair_form = load(spec);
  auto string_form = load(tiny_spec());
  for (const char* text : {"abc", "aaab", "cabcba", "dddaabc"}) EXPECT_EQ(ids(*pair_form, text), ids(*string_form, text)) << text;
}

TEST(TokenizerBpe, LongWordsMatchShortOnes) {
  // 3000 copies of "abcd": the long-word cutting must give what each short word gives.
  auto t = load(tiny_spec());
  std::string text;
  std::vector<int32_t> expected;
  for (int i = 0; i < 3000; ++i) {
    text += "abcd";
    expected.insert(expected.end(), {6, 3});
  }
  EXPECT_EQ(ids(*t, text), expected);
}

TEST(TokenizerBpe, ByteFallbackAndUnknown) {
  json spec = tiny_spec();
  spec["model"]["vocab"]["<unk>"] = 8;
  spec["model"]["unk_token"] = "<unk>";
  auto plain = load(spec);
  EXPECT_EQ(ids(*plain, "aéa"), (std::vector<int32_t>{0, 8, 0}));
  EXPECT_EQ(ids(*plain, "éé"), (std::vector<int32_t>{8, 8}));  // fuse_unk false: one per character
  spec["model"]["fuse_unk"] = true;
  EXPECT_EQ(ids(*load(spec), "éé"), (std::vector<int32_t>{8}));
  spec["model"]["byte_fallback"] = true;
  spec["model"]["vocab"]["<0xC3>"] = 9;
  spec["model"]["vocab"]["<0xA9>"] = 10;
  auto fallback = load(spec);
  EXPECT_EQ(ids(*fallback, "aé"), (std::vector<int32_t>{0, 9, 10}));
  EXPECT_EQ(fallback->decode({0, 9, 10}, false), "a <0xC3> <0xA9>");  // no decoder: joined by spaces
}

TEST(TokenizerBpe, IgnoreMergesEmitsWholeVocabWords) {
  json spec = tiny_spec();
  spec["model"]["vocab"]["cab"] = 11;  // reachable by no merge
  EXPECT_EQ(ids(*load(spec), "cab"), (std::vector<int32_t>{2, 4}));
  spec["model"]["ignore_merges"] = true;
  EXPECT_EQ(ids(*load(spec), "cab"), (std::vector<int32_t>{11}));
}

TEST(TokenizerPieces, ByteLevelAlphabet) {
  EXPECT_EQ(sq::tok::byte_level_char(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(sq::tok::byte_level_char('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(sq::tok::byte_level_char('A'), "A");
  EXPECT_EQ(sq::tok::byte_level_char(0xAD), "\xC5\x83");  // soft hyphen is shifted: Ń
}

TEST(TokenizerPieces, WhitespaceClassesFollowOniguruma) {
  sq::tok::Regex ws(R"(\s+)", "test");
  // U+0085 is White_Space (Oniguruma's \s) though PCRE2's own \s leaves it out; U+200B is not.
  EXPECT_EQ(ws.find_all("a\xC2\x85" "b").size(), 1u);
  EXPECT_TRUE(ws.find_all("a\xE2\x80\x8B" "b").empty());
  sq::tok::Regex not_ws(R"([^\s\p{L}]+)", "test");
  EXPECT_EQ(not_ws.find_all("ab!?\xC2\x85" "c"), (std::vector<sq::tok::Span>{{2, 4}}));
  EXPECT_EQ(sq::tok::translate_whitespace_classes(R"(x\\s)"), R"(x\\s)");  // an escaped backslash is not \s
}

TEST(TokenizerPieces, Gpt2PatternSplitsLikeTheReference) {
  sq::tok::Regex re(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "test");
  const std::string text = "Hello  world's 42!";
  std::vector<std::string> pieces;
  for (auto [b, e] : re.find_all(text)) pieces.push_back(text.substr(b, e - b));
  EXPECT_EQ(pieces, (std::vector<std::string>{"Hello", " ", " world", "'s", " 42", "!"}));
}

TEST(TokenizerPieces, SplitBehaviours) {
  using sq::tok::SplitBehavior;
  using sq::tok::Span;
  const std::vector<Span> m{{1, 2}, {3, 4}};  // "a-b-c" split on "-"
  EXPECT_EQ(sq::tok::split_spans(5, m, SplitBehavior::Isolated, false), (std::vector<Span>{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}));
  EXPECT_EQ(sq::tok::split_spans(5, m, SplitBehavior::Removed, false), (std::vector<Span>{{0, 1}, {2, 3}, {4, 5}}));
  EXPECT_EQ(sq::tok::split_spans(5, m, SplitBehavior::MergedWithPrevious, false), (std::vector<Span>{{0, 2}, {2, 4}, {4, 5}}));
  EXPECT_EQ(sq::tok::split_spans(5, m, SplitBehavior::MergedWithNext, false), (std::vector<Span>{{0, 1}, {1, 3}, {3, 5}}));
  EXPECT_EQ(sq::tok::split_spans(5, m, SplitBehavior::Removed, true), (std::vector<Span>{{1, 2}, {3, 4}}));
  EXPECT_EQ(sq::tok::split_spans(4, {{1, 2}, {2, 3}}, SplitBehavior::Contiguous, false), (std::vector<Span>{{0, 1}, {1, 3}, {3, 4}}));
}

TEST(TokenizerPieces, LossyUtf8UsesMaximalSubparts) {
  using sq::tok::utf8_lossy;
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8_lossy("a\xC3"), "a" + r);
  EXPECT_EQ(utf8_lossy("\xE2\x82 "), r + " ");             // a truncated sequence is one replacement
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), r + r + r);        // surrogates: each byte
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_TRUE(sq::tok::utf8_is_valid("h\xC3\xA9"));
  EXPECT_FALSE(sq::tok::utf8_is_valid("\xC0\xAF"));
}

TEST(TokenizerPipeline, AddedTokensAndTemplate) {
  json spec = tiny_spec();
  spec["added_tokens"] = json::parse(R"([
    {"id": 20, "content": "<s>", "special": true, "normalized": false},
    {"id": 21, "content": "<x>", "special": false, "normalized": false, "lstrip": true, "rstrip": true},
    {"id": 22, "content": "cd", "special": false, "normalized": false, "single_word": true}])");
  spec["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [20], "tokens": ["<s>"]}}})");
  spec["model"]["vocab"][" "] = 12;
  auto t = load(spec);
  EXPECT_EQ(ids(*t, "ab<s>c"), (std::vector<int32_t>{4, 20, 2}));
  EXPECT_EQ(ids(*t, "ab", true), (std::vector<int32_t>{20, 4}));
  EXPECT_EQ(ids(*t, "a  <x>  b"), (std::vector<int32_t>{0, 21, 1}));  // lstrip/rstrip eat the spaces
  EXPECT_EQ(ids(*t, "a cd b"), (std::vector<int32_t>{0, 12, 22, 12, 1}));
  EXPECT_EQ(ids(*t, "acd"), (std::vector<int32_t>{0, 2, 3}));  // not a single word there
  EXPECT_EQ(t->decode({20, 4}, true), "ab");
  EXPECT_EQ(t->token_to_id("<x>"), 21);
  EXPECT_TRUE(t->is_special(20));
  EXPECT_EQ(t->vocab_size(), 23u);
}

TEST(TokenizerPipeline, SentencePieceStyleDecoding) {
  json spec = tiny_spec();
  spec["model"]["vocab"]["\xE2\x96\x81"] = 13;  // ▁
  spec["model"]["vocab"]["<0x41>"] = 14;
  spec["model"]["vocab"]["<0xC3>"] = 15;
  spec["decoder"] = json::parse(R"({"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
    {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})");
  auto t = load(spec);
  EXPECT_EQ(t->decode({13, 4, 13, 14}, false), "ab A");
  EXPECT_EQ(t->decode({15, 14}, false), "\xEF\xBF\xBD\xEF\xBF\xBD");  // invalid bytes: one U+FFFD each
  EXPECT_THROW(t->decode({999}, false), sq::Error);
}

TEST(TokenizerHostile, ClearErrors) {
  expect_load_error("{not json", SQ_ERR_FORMAT, {"hostile.json", "not valid JSON"});
  expect_load_error("[]", SQ_ERR_FORMAT, {"hostile.json", "object"});
  expect_load_error(R"({"normalizer": null})", SQ_ERR_FORMAT, {"hostile.json", "'model'", "missing"});
  expect_load_error(R"({"model": {"type": "WordPiece", "vocab": {}}})", SQ_ERR_UNSUPPORTED, {"model.type", "WordPiece"});
  json spec = tiny_spec();
  spec["model"].erase("merges");
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"model.merges", "missing"});
  spec = tiny_spec();
  spec["model"]["merges"] = json::array({"a b", "abc"});
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"model.merges[1]", "abc"});
  spec["model"]["merges"] = json::array({"a b", 7});
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"model.merges[1]"});
  spec["model"]["merges"] = json::array({"a q"});
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"model.merges[0]", "'q'", "not in model.vocab"});
  spec["model"]["merges"] = json::array({"c d"});
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"model.merges[0]", "'cd'"});
  spec = tiny_spec();
  spec["model"]["vocab"]["z"] = -4;
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"model.vocab", "'z'"});
  spec = tiny_spec();
  spec["model"]["dropout"] = 0.1;
  expect_load_error(spec.dump(), SQ_ERR_UNSUPPORTED, {"model.dropout"});
  spec = tiny_spec();
  spec["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [{"type": "BertNormalizer"}]})");
  expect_load_error(spec.dump(), SQ_ERR_UNSUPPORTED, {"normalizer.normalizers[0].type", "BertNormalizer"});
  spec = tiny_spec();
  spec["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"})");
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"pre_tokenizer.pattern.Regex", "(unclosed"});
  spec["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Sideways"})");
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"pre_tokenizer.behavior", "Sideways"});
  spec["pre_tokenizer"] = json::parse(R"({"type": "BertPreTokenizer"})");
  expect_load_error(spec.dump(), SQ_ERR_UNSUPPORTED, {"pre_tokenizer.type", "BertPreTokenizer"});
  spec = tiny_spec();
  spec["post_processor"] = json::parse(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>"}}],
    "special_tokens": {}})");
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"post_processor.special_tokens.<bos>"});
  spec = tiny_spec();
  spec["decoder"] = json::parse(R"({"type": "WordPiece"})");
  expect_load_error(spec.dump(), SQ_ERR_UNSUPPORTED, {"decoder.type", "WordPiece"});
  spec = tiny_spec();
  spec["added_tokens"] = json::parse(R"([{"id": 3}])");
  expect_load_error(spec.dump(), SQ_ERR_FORMAT, {"added_tokens[0].content"});
}

TEST(TokenizerHostile, MissingFileNamesIt) {
  try {
    Tokenizer::from_file("/nonexistent/dir/tokenizer.json");
    FAIL();
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_IO);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/tokenizer.json"), std::string::npos);
  }
}
