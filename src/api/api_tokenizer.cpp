// extern "C" shims for sq_tokenizer_*: argument checks and exception conversion only.
#include <cstring>
#include <memory>

#include "api/api_internal.hpp"
#include "api/api_model.hpp"
#include "streamquant/sq_tokenizer.h"
#include "tokenizer/tokenizer.hpp"

struct sq_tokenizer {
  std::unique_ptr<sq::tok::Tokenizer> impl;
};

using sq::api::guard;
using sq::api::require_arg;

extern "C" {

SQ_API sq_error* sq_tokenizer_open(sq_tokenizer** out, const char* path_utf8) {
  return guard([&] {
    require_arg(out, "sq_tokenizer_open", "out");
    require_arg(path_utf8, "sq_tokenizer_open", "path_utf8");
    auto t = std::make_unique<sq_tokenizer>();
    t->impl = sq::tok::Tokenizer::from_file(path_utf8);
    *out = t.release();
  });
}

SQ_API sq_error* sq_tokenizer_open_json(sq_tokenizer** out, const char* json, size_t len) {
  return guard([&] {
    require_arg(out, "sq_tokenizer_open_json", "out");
    require_arg(json, "sq_tokenizer_open_json", "json");
    auto t = std::make_unique<sq_tokenizer>();
    t->impl = sq::tok::Tokenizer::from_json(std::string_view(json, len), "tokenizer JSON text");
    *out = t.release();
  });
}

SQ_API sq_error* sq_tokenizer_from_model(sq_tokenizer** out, const sq_model* model) {
  return guard([&] {
    require_arg(out, "sq_tokenizer_from_model", "out");
    require_arg(model, "sq_tokenizer_from_model", "model");
    if (model->files.tokenizer_json.empty())
      sq::throw_error(SQ_ERR_NOT_FOUND, "model '", model->files.path, "' has no tokenizer.json");
    auto t = std::make_unique<sq_tokenizer>();
    t->impl = sq::tok::Tokenizer::from_json(model->files.tokenizer_json, model->files.path + " tokenizer.json");
    *out = t.release();
  });
}

SQ_API void sq_tokenizer_free(sq_tokenizer* tok) { std::unique_ptr<sq_tokenizer> owned(tok); }

SQ_API sq_error* sq_tokenizer_encode(const sq_tokenizer* tok, const char* text, size_t len, int32_t add_special,
                                     int32_t* ids, size_t capacity, size_t* count_out) {
  return guard([&] {
    require_arg(tok, "sq_tokenizer_encode", "tok");
    require_arg(count_out, "sq_tokenizer_encode", "count_out");
    if (len > 0) require_arg(text, "sq_tokenizer_encode", "text");
    if (capacity > 0) require_arg(ids, "sq_tokenizer_encode", "ids");
    if (add_special != 0 && add_special != 1)
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "sq_tokenizer_encode: add_special must be 0 or 1; got ", add_special);
    const std::vector<int32_t> result = tok->impl->encode(std::string_view(len ? text : "", len), add_special == 1);
    if (result.size() <= capacity && !result.empty()) std::memcpy(ids, result.data(), result.size() * sizeof(int32_t));
    *count_out = result.size();
  });
}

SQ_API sq_error* sq_tokenizer_decode(const sq_tokenizer* tok, const int32_t* ids, size_t count, int32_t skip_special,
                                     char* text, size_t capacity, size_t* len_out) {
  return guard([&] {
    require_arg(tok, "sq_tokenizer_decode", "tok");
    require_arg(len_out, "sq_tokenizer_decode", "len_out");
    if (count > 0) require_arg(ids, "sq_tokenizer_decode", "ids");
    if (capacity > 0) require_arg(text, "sq_tokenizer_decode", "text");
    if (skip_special != 0 && skip_special != 1)
      sq::throw_error(SQ_ERR_INVALID_ARGUMENT, "sq_tokenizer_decode: skip_special must be 0 or 1; got ", skip_special);
    const std::string result = tok->impl->decode(std::vector<int32_t>(ids, ids + count), skip_special == 1);
    if (result.size() + 1 <= capacity) std::memcpy(text, result.c_str(), result.size() + 1);
    *len_out = result.size();
  });
}

SQ_API size_t sq_tokenizer_vocab_size(const sq_tokenizer* tok) { return tok ? tok->impl->vocab_size() : 0; }

SQ_API sq_error* sq_tokenizer_token_to_id(const sq_tokenizer* tok, const char* token, int32_t* id_out) {
  return guard([&] {
    require_arg(tok, "sq_tokenizer_token_to_id", "tok");
    require_arg(token, "sq_tokenizer_token_to_id", "token");
    require_arg(id_out, "sq_tokenizer_token_to_id", "id_out");
    const auto id = tok->impl->token_to_id(token);
    if (!id) sq::throw_error(SQ_ERR_NOT_FOUND, "sq_tokenizer_token_to_id: token '", token, "' is not in the vocabulary");
    *id_out = *id;
  });
}

SQ_API sq_error* sq_tokenizer_id_to_token(const sq_tokenizer* tok, int32_t id, const char** token_out,
                                          int32_t* special_out) {
  return guard([&] {
    require_arg(tok, "sq_tokenizer_id_to_token", "tok");
    require_arg(token_out, "sq_tokenizer_id_to_token", "token_out");
    const std::string* s = tok->impl->id_to_token(id);
    if (!s) sq::throw_error(SQ_ERR_NOT_FOUND, "sq_tokenizer_id_to_token: id ", id, " is not in the vocabulary");
    *token_out = s->c_str();
    if (special_out) *special_out = tok->impl->is_special(id) ? 1 : 0;
  });
}

}  // extern "C"
