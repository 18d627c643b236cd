// JSON parsing for untrusted files. nlohmann::json silently keeps the last of duplicate keys, which would let
// a file say two different things about one tensor; here duplicates are an error, and every parse failure
// becomes SQ_ERR_FORMAT instead of a library exception.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace sq {

// Parse [begin, end) as one JSON document. `what` names the source in errors, e.g. "file 'x': header".
nlohmann::json parse_json_strict(const char* begin, const char* end, const std::string& what);

}  // namespace sq
