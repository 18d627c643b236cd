#include "io/model_files.hpp"

#include <filesystem>

#include "io/gguf_source.hpp"
#include "io/safetensors_source.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Files copied next to outputs so they stay loadable by transformers and friends.
const char* const kSideFiles[] = {"tokenizer.json",        "tokenizer_config.json", "special_tokens_map.json",
                                  "generation_config.json", "tokenizer.model",       "vocab.json",
                                  "merges.txt",             "chat_template.jinja"};

void read_dir_extras(ModelFiles& m) {
  const fs::path dir(m.dir);
  const fs::path cfg = dir / "config.json";
  if (fs::is_regular_file(cfg)) m.config = load_model_config(cfg.string());
  for (const char* name : kSideFiles) {
    const fs::path p = dir / name;
    if (fs::is_regular_file(p)) m.side_files.push_back(p.string());
  }
  const fs::path tok = dir / "tokenizer.json";
  if (fs::is_regular_file(tok)) m.tokenizer_json = read_file(tok.string());
}

}  // namespace

ModelFiles open_model_files(const std::string& path) {
  ModelFiles m;
  m.path = path;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw_error(SQ_ERR_IO, "model path '", path, "' does not exist");

  if (fs::is_directory(st)) {
    m.dir = path;
    const fs::path dir(path);
    if (fs::is_regular_file(dir / "model.safetensors.index.json")) {
      m.weights = open_safetensors_index((dir / "model.safetensors.index.json").string());
    } else if (fs::is_regular_file(dir / "model.safetensors")) {
      m.weights = open_safetensors_file((dir / "model.safetensors").string());
    } else {
      throw_error(SQ_ERR_NOT_FOUND, "model directory '", path,
                  "' has neither model.safetensors nor model.safetensors.index.json");
    }
    if (!fs::is_regular_file(dir / "config.json"))
      throw_error(SQ_ERR_NOT_FOUND, "model directory '", path, "' has no config.json");
    read_dir_extras(m);
    return m;
  }
  if (ends_with(path, ".gguf")) {
    GgufModel g = open_gguf_model(path);
    m.weights = std::move(g.weights);
    m.config = parse_model_config(g.config, path + " (GGUF metadata)");
    m.tokenizer_json = std::move(g.tokenizer_json);
    return m;
  }
  if (ends_with(path, ".safetensors")) {
    m.weights = open_safetensors_file(path);
    m.dir = fs::path(path).parent_path().string();
    if (m.dir.empty()) m.dir = ".";
    // A config.json beside a lone file is used when present; otherwise the model can be listed, not run.
    read_dir_extras(m);
    return m;
  }
  throw_error(SQ_ERR_UNSUPPORTED, "model path '", path,
              "' is not a directory, a .safetensors file or a .gguf file");
}

}  // namespace sq
