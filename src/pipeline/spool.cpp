#include "pipeline/spool.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "io/safetensors_source.hpp"
#include "io/safetensors_writer.hpp"
#include "pipeline/layer_codec.hpp"
#include "util/error.hpp"

namespace sq {

std::string spool_block_path(const std::string& dir, int64_t block) {
  char name[64];
  std::snprintf(name, sizeof name, "block_%05lld.safetensors", static_cast<long long>(block));
  return dir + "/" + name;
}

void write_spool_block(const std::string& path, const std::vector<std::pair<std::string, QuantizedLayer>>& layers) {
  std::vector<std::pair<std::string, EncodedLayer>> encoded;
  for (const auto& [prefix, layer] : layers) encoded.emplace_back(prefix, encode_layer(layer));
  write_spool_block(path, encoded);
}

void write_spool_block(const std::string& path, const std::vector<std::pair<std::string, EncodedLayer>>& encoded) {
  SafetensorsWriter w(path);
  w.set_metadata("format", kSqFormatName);
  w.set_metadata("sq.format_version", std::to_string(kSqFormatVersion));
  for (const auto& [prefix, enc] : encoded) {
    w.set_metadata(kSqSchemePrefix + prefix, enc.scheme.dump());
    for (const auto& p : enc.payloads) w.declare(prefix + kSqPayloadInfix + p.part, SQ_DTYPE_U8, {int64_t(p.frame.size())});
  }
  for (const auto& [prefix, enc] : encoded)
    for (const auto& p : enc.payloads) w.write(prefix + kSqPayloadInfix + p.part, p.frame.data(), p.frame.size());
  w.finish();
}

nlohmann::json read_safetensors_metadata(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw_error(SQ_ERR_IO, "file '", path, "': cannot open");
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  if (!f || n > (uint64_t(1) << 30)) throw_error(SQ_ERR_FORMAT, "file '", path, "': bad safetensors header length");
  std::string header(size_t(n), '\0');
  f.read(header.data(), std::streamsize(n));
  if (!f) throw_error(SQ_ERR_FORMAT, "file '", path, "': truncated safetensors header");
  nlohmann::json doc = nlohmann::json::parse(header, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw_error(SQ_ERR_FORMAT, "file '", path, "': header is not a JSON object");
  if (!doc.contains("__metadata__")) return nlohmann::json::object();
  return doc["__metadata__"];
}

std::vector<std::pair<std::string, nlohmann::json>> list_sq_layers(const std::string& path) {
  const auto meta = read_safetensors_metadata(path);
  std::vector<std::pair<std::string, nlohmann::json>> out;
  const std::string prefix = kSqSchemePrefix;
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (it.key().compare(0, prefix.size(), prefix) != 0) continue;
    if (!it.value().is_string()) throw_error(SQ_ERR_FORMAT, "file '", path, "': metadata '", it.key(), "' is not a string");
    auto scheme = nlohmann::json::parse(it.value().get<std::string>(), nullptr, false);
    if (scheme.is_discarded()) throw_error(SQ_ERR_FORMAT, "file '", path, "': metadata '", it.key(), "' is not JSON");
    out.emplace_back(it.key().substr(prefix.size()), std::move(scheme));
  }
  return out;  // nlohmann::json objects iterate in key order: a stable, deterministic order
}

void for_each_sq_layer(const std::string& path,
                       const std::function<void(const std::string& prefix, const QuantizedLayer&)>& fn) {
  const auto layers = list_sq_layers(path);
  if (layers.empty()) return;
  const auto src = open_safetensors_file(path);
  for (const auto& [prefix, scheme] : layers) {
    const std::string& pfx = prefix;
    auto fetch = [&](const std::string& part) {
      const std::string name = pfx + kSqPayloadInfix + part;
      const size_t i = src->find(name);
      if (i == SIZE_MAX) throw_error(SQ_ERR_FORMAT, "file '", path, "': payload tensor '", name, "' is missing");
      const auto& d = src->tensors()[i];
      if (d.dtype != SQ_DTYPE_U8 || d.shape.size() != 1)
        throw_error(SQ_ERR_FORMAT, "file '", path, "': payload tensor '", name, "' must be 1-D U8");
      return std::make_pair(static_cast<const uint8_t*>(src->raw_data(i)), size_t(d.shape[0]));
    };
    fn(prefix, decode_layer(scheme, fetch, path + ": " + prefix));
  }
}

}  // namespace sq
