// `streamquant tokenize`: encode text with a tokenizer.json (or decode ids back to text).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"

namespace {

struct TokenizeOptions {
  std::string tokenizer, text_file, string, decode_file, out;
  bool add_special = false, skip_special = false, json = false;
};

struct TokenizerHandle {
  sq_tokenizer* ptr = nullptr;
  ~TokenizerHandle() { sq_tokenizer_free(ptr); }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sqcli::CliError(SQ_ERR_IO, "cannot open '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw sqcli::CliError(SQ_ERR_IO, "cannot write '" + path + "'");
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_decode(const TokenizeOptions& o, const sq_tokenizer* tok) {
  const std::string raw = read_all(o.decode_file);
  if (raw.size() % 4 != 0)
    throw sqcli::CliError(SQ_ERR_FORMAT, "'" + o.decode_file + "' is " + std::to_string(raw.size()) +
                                             " bytes, not a whole number of int32 ids");
  std::vector<int32_t> ids(raw.size() / 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto* b = reinterpret_cast<const unsigned char*>(raw.data() + 4 * i);
    ids[i] = static_cast<int32_t>(uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24);
  }
  size_t len = 0;
  sqcli::check(sq_tokenizer_decode(tok, ids.data(), ids.size(), o.skip_special ? 1 : 0, nullptr, 0, &len));
  std::string text(len + 1, '\0');
  sqcli::check(sq_tokenizer_decode(tok, ids.data(), ids.size(), o.skip_special ? 1 : 0, text.data(), text.size(), &len));
  text.resize(len);
  if (!o.out.empty()) write_all(o.out, text);
  else std::fwrite(text.data(), 1, text.size(), stdout);
}

void run_tokenize(const TokenizeOptions& o) {
  const auto t_load = std::chrono::steady_clock::now();
  TokenizerHandle tok;
  sqcli::check(sq_tokenizer_open(&tok.ptr, o.tokenizer.c_str()));
  const double load_s = seconds_since(t_load);
  if (!o.decode_file.empty()) {
    run_decode(o, tok.ptr);
    return;
  }
  const std::string text = o.text_file.empty() ? o.string : read_all(o.text_file);

  const auto t_enc = std::chrono::steady_clock::now();
  // One pass nearly always: a token covers at least one byte, plus room for template tokens.
  std::vector<int32_t> ids(text.size() + 64);
  size_t count = 0;
  sqcli::check(sq_tokenizer_encode(tok.ptr, text.data(), text.size(), o.add_special ? 1 : 0, ids.data(), ids.size(), &count));
  if (count > ids.size()) {
    ids.resize(count);
    sqcli::check(sq_tokenizer_encode(tok.ptr, text.data(), text.size(), o.add_special ? 1 : 0, ids.data(), ids.size(), &count));
  }
  ids.resize(count);
  const double encode_s = seconds_since(t_enc);

  if (!o.out.empty()) {
    std::string bytes(ids.size() * 4, '\0');
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto v = static_cast<uint32_t>(ids[i]);
      for (int k = 0; k < 4; ++k) bytes[4 * i + static_cast<size_t>(k)] = static_cast<char>((v >> (8 * k)) & 0xFF);
    }
    write_all(o.out, bytes);
  }
  std::ostringstream ids_text;
  for (size_t i = 0; i < ids.size(); ++i) ids_text << (i ? (o.json ? ", " : " ") : "") << ids[i];
  if (o.json) {
    std::printf("{\"tokenizer\": \"%s\", \"bytes\": %zu, \"count\": %zu, \"load_seconds\": %.6f, \"encode_seconds\": %.6f",
                json_escape(o.tokenizer).c_str(), text.size(), ids.size(), load_s, encode_s);
    if (o.out.empty()) std::printf(", \"ids\": [%s]", ids_text.str().c_str());
    std::printf("}\n");
  } else if (o.out.empty()) {
    std::printf("%s\n", ids_text.str().c_str());
  } else {
    std::fprintf(stderr, "%zu ids from %zu bytes in %.3f s -> %s\n", ids.size(), text.size(), encode_s, o.out.c_str());
  }
}

void setup_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Encode text to token ids with a tokenizer.json (or decode ids)");
  cmd->add_option("--tokenizer", opts->tokenizer, "tokenizer.json (or tokenizer.json.zst)")->required();
  auto* text = cmd->add_option("--text", opts->text_file, "UTF-8 text file to encode");
  auto* str = cmd->add_option("--string", opts->string, "text to encode, given on the command line");
  auto* dec = cmd->add_option("--decode", opts->decode_file, "raw little-endian int32 ids to decode to text");
  text->excludes(str)->excludes(dec);
  str->excludes(dec);
  cmd->add_flag("--add-special", opts->add_special, "add the special tokens the post-processor asks for (e.g. BOS)");
  cmd->add_flag("--skip-special", opts->skip_special, "with --decode: leave special tokens out of the text");
  cmd->add_option("--out", opts->out, "write ids as raw little-endian int32 (or, with --decode, the text) here");
  cmd->add_flag("--json", opts->json, "print a JSON summary (with the ids when --out is not given)");
  cmd->callback([opts, text, str, dec] {
    if (!*text && !*str && !*dec) throw CLI::ValidationError("tokenize", "one of --text, --string or --decode is required");
    run_tokenize(*opts);
  });
}

const sqcli::Registrar reg("tokenize", &setup_tokenize);

}  // namespace
