// Shared pieces of the `streamquant` command-line program. The CLI uses the library only through the
// public C API, like any other host program would.
#pragma once
#include <cctype>
#include <cstdint>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "streamquant/streamquant.h"

namespace sqcli {

// A failed library call, carried to main() which prints "streamquant: error: <message>" and exits 1.
struct CliError : std::runtime_error {
  int32_t code;
  CliError(int32_t c, const std::string& m) : std::runtime_error(m), code(c) {}
};

// Throw CliError when err is non-NULL (and free it).
void check(sq_error* err);

// Subcommands register themselves: `static sqcli::Registrar reg("inspect", &setup_inspect);`
// setup() adds the subcommand to the app and sets its callback.
using SetupFn = void (*)(CLI::App& app);
struct Registrar {
  Registrar(const char* name, SetupFn setup);
};
std::vector<std::pair<std::string, SetupFn>>& registry();

// RAII owners for library handles.
struct Context {
  sq_context* ptr = nullptr;
  explicit Context(const std::string& device = "cpu", int threads = 0, bool verbose = false);
  ~Context() { sq_context_free(ptr); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
};

struct Model {
  sq_model* ptr = nullptr;
  Model(Context& ctx, const std::string& path);
  ~Model() { sq_model_free(ptr); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
};

// "32G", "24GiB", "512M", "1.5T" or a plain byte count -> bytes (K/M/G/T are powers of 1024).
// Throws CliError naming `option` when the text is not such a size.
inline uint64_t parse_size(const std::string& text, const std::string& option) {
  size_t end = 0;
  double value = -1;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::string unit = text.substr(end);
  for (const char* suffix : {"iB", "B"})
    if (unit.size() > std::char_traits<char>::length(suffix) &&
        unit.compare(unit.size() - std::char_traits<char>::length(suffix), std::string::npos, suffix) == 0) {
      unit.resize(unit.size() - std::char_traits<char>::length(suffix));
      break;
    }
  const std::string units = "KMGT";
  double scale = 1;
  if (unit.size() == 1 && units.find(char(std::toupper(unsigned(unit[0])))) != std::string::npos)
    scale = double(uint64_t(1) << (10 * (units.find(char(std::toupper(unsigned(unit[0])))) + 1)));
  else if (!unit.empty())
    end = 0;
  if (end == 0 || !(value > 0) || value * scale > 1.8e19)
    throw CliError(SQ_ERR_INVALID_ARGUMENT, option + ": '" + text + "' is not a size; expected e.g. 32G, 24GiB, 512M or a byte count");
  return uint64_t(value * scale);
}

// The whole of a text file (eval, calibrate-sensitivity).
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError(SQ_ERR_IO, "cannot open text file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Token ids of `text` with the model's own tokenizer, no special tokens added.
inline std::vector<int32_t> tokenize_text(const Model& model, const std::string& text) {
  sq_tokenizer* tok = nullptr;
  check(sq_tokenizer_from_model(&tok, model.ptr));
  size_t n = 0;
  sq_error* err = sq_tokenizer_encode(tok, text.data(), text.size(), 0, nullptr, 0, &n);
  std::vector<int32_t> ids(n);
  if (!err) err = sq_tokenizer_encode(tok, text.data(), text.size(), 0, ids.data(), ids.size(), &n);
  sq_tokenizer_free(tok);
  check(err);
  return ids;
}

}  // namespace sqcli
