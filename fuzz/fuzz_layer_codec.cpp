// libFuzzer target: the project's own layer encoding, decoded directly. Input parts: the scheme JSON, then
// pairs of (payload name, zstd frame) such as "codes", <frame>, "scales", <frame>.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_common.hpp"
#include "pipeline/layer_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = sqfuzz::split_parts(data, size);
  const auto scheme = nlohmann::json::parse(parts[0], nullptr, false);
  if (scheme.is_discarded()) return 0;  // the container stores the scheme as checked JSON already
  std::map<std::string, std::string_view> payloads;
  for (size_t i = 1; i + 1 < parts.size(); i += 2) payloads[std::string(parts[i])] = parts[i + 1];
  const sq::PayloadFetch fetch = [&](const std::string& part) -> std::pair<const uint8_t*, size_t> {
    const auto it = payloads.find(part);
    if (it == payloads.end()) sq::throw_error(SQ_ERR_FORMAT, "layer 'fuzz': payload '", part, "' is missing");
    return {reinterpret_cast<const uint8_t*>(it->second.data()), it->second.size()};
  };
  sqfuzz::expect_only_sq_errors("layer_codec", [&] { sq::decode_layer(scheme, fetch, "fuzz"); });
  return 0;
}
