// Typed field access on tokenizer.json with errors that name the file and the field path.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace sq::tok {

using json = nlohmann::json;

// Where in which file a JSON value sits, e.g. {"tokenizer 'x/tokenizer.json'", "pre_tokenizer.pretokenizers[1]"}.
struct JsonPlace {
  std::string source;
  std::string path;
  JsonPlace child(const std::string& key) const { return {source, path.empty() ? key : path + "." + key}; }
  JsonPlace index(size_t i) const { return {source, path + "[" + std::to_string(i) + "]"}; }
  std::string str() const { return source + ": field '" + path + "'"; }
};

// The member `key` of object `obj`; SQ_ERR_FORMAT when obj is not an object or the member is missing.
inline const json& need(const json& obj, const char* key, const JsonPlace& at) {
  if (!obj.is_object()) throw_error(SQ_ERR_FORMAT, at.str(), " must be an object");
  auto it = obj.find(key);
  if (it == obj.end()) throw_error(SQ_ERR_FORMAT, at.child(key).str(), " is missing");
  return *it;
}

inline std::string need_string(const json& obj, const char* key, const JsonPlace& at) {
  const json& v = need(obj, key, at);
  if (!v.is_string()) throw_error(SQ_ERR_FORMAT, at.child(key).str(), " must be a string, got ", v.type_name());
  return v.get<std::string>();
}

// Optional members: absent or null gives the fallback; a wrong type is an error.
inline bool opt_bool(const json& obj, const char* key, bool fallback, const JsonPlace& at) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw_error(SQ_ERR_FORMAT, at.child(key).str(), " must be true or false, got ", it->dump());
  return it->get<bool>();
}

inline std::string opt_string(const json& obj, const char* key, const std::string& fallback, const JsonPlace& at) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) throw_error(SQ_ERR_FORMAT, at.child(key).str(), " must be a string, got ", it->type_name());
  return it->get<std::string>();
}

inline long long opt_int(const json& obj, const char* key, long long fallback, const JsonPlace& at) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) throw_error(SQ_ERR_FORMAT, at.child(key).str(), " must be an integer, got ", it->dump());
  return it->get<long long>();
}

// The "type" member of a component (normalizer, pre_tokenizer, ...).
inline std::string type_of(const json& obj, const JsonPlace& at) { return need_string(obj, "type", at); }

}  // namespace sq::tok
