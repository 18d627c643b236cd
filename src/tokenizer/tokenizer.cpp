#include "tokenizer/tokenizer.hpp"

#include <zstd.h>

#include <fstream>
#include <sstream>

#include "tokenizer/bpe_model.hpp"
#include "tokenizer/decoder.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/utf8.hpp"

namespace sq::tok {

namespace {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error(SQ_ERR_IO, "tokenizer '", path, "': cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw_error(SQ_ERR_IO, "tokenizer '", path, "': read failed");
  return ss.str();
}

std::string zstd_decompress(const std::string& data, const std::string& path) {
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(), ZSTD_freeDStream);
  if (!ds) throw_error(SQ_ERR_OUT_OF_MEMORY, "tokenizer '", path, "': cannot create a zstd stream");
  std::string out;
  std::vector<char> buf(ZSTD_DStreamOutSize());
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t ret = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ds.get(), &o, &in);
    if (ZSTD_isError(ret)) throw_error(SQ_ERR_FORMAT, "tokenizer '", path, "': bad zstd data: ", ZSTD_getErrorName(ret));
    out.append(buf.data(), o.pos);
  }
  if (ret != 0) throw_error(SQ_ERR_FORMAT, "tokenizer '", path, "': truncated zstd data");
  return out;
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

}  // namespace

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::string& path) {
  std::string bytes = read_file_bytes(path);
  if (ends_with(path, ".zst")) bytes = zstd_decompress(bytes, path);
  return from_json(bytes, "tokenizer '" + path + "'");
}

std::unique_ptr<Tokenizer> Tokenizer::from_json(std::string_view text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e400
    throw_error(SQ_ERR_FORMAT, source, ": not valid JSON: ", e.what());
  }
  const JsonPlace root{source, ""};
  if (!doc.is_object()) throw_error(SQ_ERR_FORMAT, source, ": the top level must be a JSON object");
  std::unique_ptr<Tokenizer> t(new Tokenizer());

  const json& model = need(doc, "model", root);
  const JsonPlace mat = root.child("model");
  if (!model.is_object()) throw_error(SQ_ERR_FORMAT, mat.str(), " must be an object");
  // Files written before "type" existed are BPE when they have merges.
  const std::string type = model.contains("type") ? need_string(model, "type", mat) : (model.contains("merges") ? "BPE" : "");
  if (type != "BPE")
    throw_error(SQ_ERR_UNSUPPORTED, mat.child("type").str(), " is '", type, "': only BPE models are supported");
  t->model_ = std::make_unique<BpeModel>(model, mat);

  auto member = [&](const char* key) -> const json& {
    static const json null_value;
    auto it = doc.find(key);
    return it == doc.end() ? null_value : *it;
  };
  t->normalizer_ = make_normalizer(member("normalizer"), root.child("normalizer"));
  t->pre_tokenizer_ = make_pre_tokenizer(member("pre_tokenizer"), root.child("pre_tokenizer"));
  t->post_processor_ = make_post_processor(member("post_processor"), root.child("post_processor"));
  t->decoder_ = make_decoder(member("decoder"), root.child("decoder"));
  t->added_ = parse_added_tokens(member("added_tokens"), root.child("added_tokens"));

  std::vector<std::string> raw_patterns, norm_patterns;
  std::vector<const AddedToken*> raw_tokens, norm_tokens;
  for (size_t i = 0; i < t->added_.size(); ++i) {
    const AddedToken& a = t->added_[i];
    t->added_by_id_.emplace(a.id, i);
    t->added_by_content_.emplace(a.content, a.id);
    if (a.normalized) {
      std::string pattern = a.content;
      if (t->normalizer_) t->normalizer_->normalize(pattern);
      norm_patterns.push_back(pattern);
      norm_tokens.push_back(&a);
    } else {
      raw_patterns.push_back(a.content);
      raw_tokens.push_back(&a);
    }
  }
  t->raw_matcher_ = std::make_unique<AddedTokenMatcher>(raw_patterns, raw_tokens);
  t->normalized_matcher_ = std::make_unique<AddedTokenMatcher>(norm_patterns, norm_tokens);
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special_tokens) const {
  const std::string text = utf8_is_valid(input) ? std::string(input) : utf8_lossy(input);

  // 1. Added tokens matched on the raw text, 2. normalization of what lies between them, 3. added tokens
  // matched on the normalized text.
  std::vector<Segment> raw, segments;
  raw_matcher_->split(text, true, raw);
  for (Segment& s : raw) {
    if (s.token_id >= 0) {
      segments.push_back(std::move(s));
      continue;
    }
    if (normalizer_) normalizer_->normalize(s.text);
    if (s.text.empty()) continue;
    normalized_matcher_->split(s.text, s.at_origin, segments);
  }

  // 4. Pre-tokenize each text segment into words and run the model on each word.
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  std::vector<Piece> pieces;
  for (const Segment& s : segments) {
    if (s.token_id >= 0) {
      ids.push_back(s.token_id);
      continue;
    }
    pieces.clear();
    pieces.push_back({s.text, s.at_origin});
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
    for (const Piece& p : pieces) model_->tokenize(p.text, ids);
  }

  // 5. Special tokens around the sequence.
  if (add_special_tokens && post_processor_) post_processor_->process(ids);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end()) {
      if (!(skip_special && added_[it->second].special)) tokens.push_back(added_[it->second].content);
      continue;
    }
    const std::string* tok = model_->id_to_token(id);
    if (!tok) throw_error(SQ_ERR_INVALID_ARGUMENT, "decode: id ", id, " at position ", i, " is not in the vocabulary");
    tokens.push_back(*tok);
  }
  if (!decoder_) {
    // Without a decoder the reference joins tokens with spaces.
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  decoder_->decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

size_t Tokenizer::vocab_size() const {
  size_t n = model_->id_space();
  for (const AddedToken& a : added_) n = std::max(n, static_cast<size_t>(a.id) + 1);
  return n;
}

std::optional<int32_t> Tokenizer::token_to_id(const std::string& token) const {
  auto it = added_by_content_.find(token);
  if (it != added_by_content_.end()) return it->second;
  return model_->token_to_id(token);
}

const std::string* Tokenizer::id_to_token(int32_t id) const {
  auto it = added_by_id_.find(id);
  if (it != added_by_id_.end()) return &added_[it->second].content;
  return model_->id_to_token(id);
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && added_[it->second].special;
}

}  // namespace sq::tok
