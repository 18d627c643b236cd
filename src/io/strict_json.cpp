#include "io/strict_json.hpp"

#include <set>
#include <vector>

#include "util/error.hpp"

namespace sq {

nlohmann::json parse_json_strict(const char* begin, const char* end, const std::string& what) {
  using nlohmann::json;
  // One key set per open object; the callback sees every key before its value is stored.
  std::vector<std::set<std::string>> open_objects;
  std::string top_key, duplicate, duplicate_in;
  auto on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string key = parsed.get<std::string>();
        if (open_objects.size() == 1) top_key = key;
        if (!open_objects.empty() && !open_objects.back().insert(key).second && duplicate.empty()) {
          duplicate = key;
          duplicate_in = open_objects.size() == 1 ? std::string() : top_key;
        }
        break;
      }
      default: break;
    }
    return true;  // keep everything: the callback only watches
  };
  json out;
  try {
    out = json::parse(begin, end, on_event, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    throw_error(SQ_ERR_FORMAT, what, " is not valid JSON: ", e.what());
  }
  if (!duplicate.empty()) {
    if (duplicate_in.empty()) throw_error(SQ_ERR_FORMAT, what, ": duplicate key '", duplicate, "'");
    throw_error(SQ_ERR_FORMAT, what, ": duplicate key '", duplicate, "' inside '", duplicate_in, "'");
  }
  return out;
}

}  // namespace sq
