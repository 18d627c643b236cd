#include "io/gguf_tokenizer.hpp"

#include <nlohmann/json.hpp>

#include "io/gguf_reader.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

using json = nlohmann::json;

// llama.cpp token types (tokenizer.ggml.token_type).
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

// The regexes of the original Hugging Face tokenizers that llama.cpp's `pre` names stand for.
const char* const kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json byte_level(bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

json split_regex(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// The pre-tokenizer (and normalizer) for a llama.cpp `pre` name; false when the name is unknown.
bool pre_tokenizer_for(const std::string& pre, json& pre_tokenizer, json& normalizer) {
  normalizer = nullptr;
  if (pre.empty() || pre == "default" || pre == "gpt2") {
    pre_tokenizer = byte_level(true, true);
  } else if (pre == "smollm") {
    // SmolLM/SmolLM2: every digit is its own pre-token, then the GPT-2 regex.
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                    byte_level(true, true)})}};
  } else if (pre == "llama-bpe" || pre == "llama3") {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", json::array({split_regex(kLlama3Regex), byte_level(true, false)})}};
  } else if (pre == "qwen2") {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", json::array({split_regex(kQwen2Regex), byte_level(false, false)})}};
    normalizer = {{"type", "NFC"}};
  } else {
    return false;
  }
  return true;
}

GgufTokenizer build_byte_level_bpe(const GgufFile& f, const std::vector<std::string>& tokens) {
  GgufTokenizer out;
  const std::string pre = f.get_string("tokenizer.ggml.pre", "default");
  json pre_tokenizer, normalizer;
  if (!pre_tokenizer_for(pre, pre_tokenizer, normalizer)) {
    out.note = "file '" + f.path() + "': tokenizer.ggml.pre '" + pre +
               "' is not supported (supported: default, gpt2, smollm, llama-bpe, llama3, qwen2); no tokenizer.json";
    return out;
  }

  const std::vector<int64_t>* types = f.get_int_array("tokenizer.ggml.token_type");
  if (types != nullptr && types->size() != tokens.size())
    throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': metadata key 'tokenizer.ggml.token_type' has ", types->size(),
                " entries but 'tokenizer.ggml.tokens' has ", tokens.size());
  const std::vector<std::string>* merges = f.get_string_array("tokenizer.ggml.merges");
  if (merges == nullptr)
    throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': metadata key 'tokenizer.ggml.merges' is missing (required for ",
                "a gpt2 tokenizer)");

  json vocab = json::object();
  json added = json::array();
  size_t duplicates = 0;
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (vocab.contains(tokens[id])) {
      ++duplicates;  // a JSON object keeps one id per string; the first one wins, as in llama.cpp
    } else {
      vocab[tokens[id]] = id;
    }
    const int64_t type = types != nullptr ? (*types)[id] : 1;
    if (type == kTokenControl || type == kTokenUserDefined)
      added.push_back({{"id", id}, {"content", tokens[id]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", type == kTokenControl}});
  }
  json merge_list = json::array();
  for (size_t i = 0; i < merges->size(); ++i) {
    const std::string& m = (*merges)[i];
    const size_t space = m.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == m.size() ||
        m.find(' ', space + 1) != std::string::npos)
      throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': merge ", i, " of 'tokenizer.ggml.merges' (\"", m,
                  "\") is not two tokens separated by one space");
    merge_list.push_back(m);
  }

  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", pre == "llama-bpe" || pre == "llama3"},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merge_list)}};
  json doc = {{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", std::move(added)},
              {"normalizer", std::move(normalizer)},
              {"pre_tokenizer", std::move(pre_tokenizer)},
              {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false},
                                  {"use_regex", true}}},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                           {"use_regex", true}}},
              {"model", std::move(model)}};
  // Invalid UTF-8 in hostile metadata must not escape as a JSON exception: replace it.
  out.json = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  if (duplicates > 0)
    out.note = cat("file '", f.path(), "': ", duplicates, " duplicate token strings kept their first id only");
  return out;
}

}  // namespace

GgufTokenizer build_tokenizer_json(const GgufFile& f) {
  GgufTokenizer out;
  const std::string model = f.get_string("tokenizer.ggml.model", "");
  if (model.empty()) {
    out.note = "file '" + f.path() + "': no tokenizer.ggml.model in the metadata; no tokenizer.json";
    return out;
  }
  const std::vector<std::string>* tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (tokens == nullptr)
    throw_error(SQ_ERR_FORMAT, "file '", f.path(), "': metadata key 'tokenizer.ggml.tokens' is missing");
  if (model == "gpt2") return build_byte_level_bpe(f, *tokens);
  out.note = "file '" + f.path() + "': tokenizer.ggml.model '" + model +
             "' is not supported (supported: gpt2); no tokenizer.json";
  return out;
}

}  // namespace sq
