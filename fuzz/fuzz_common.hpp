// Shared pieces of the libFuzzer targets: a per-process scratch directory for inputs that must be files,
// and the rule every target enforces. A parser may refuse an input only with sq::Error (the C API turns
// that into a specific sq_error code); any other exception escaping it is a bug, so the target aborts and
// libFuzzer records the input as a crash. Memory errors are caught by ASan/UBSan in the same build.
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace sqfuzz {

// A directory private to this process, created on first use and removed when the process exits.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sq_fuzz_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline const std::string& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

inline std::string scratch_path(const std::string& name) { return scratch_dir() + "/" + name; }

inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) std::abort();  // the scratch directory itself failed: not an input problem
}

// Inputs made of several files are the files joined by this line (binary parts are unlikely to hold it,
// and tools/make_fuzz_seeds.py writes seeds in the same framing).
constexpr std::string_view kPartSeparator = "\n--SQ-PART--\n";

inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (size_t at; (at = rest.find(kPartSeparator)) != std::string_view::npos;) {
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kPartSeparator.size());
  }
  parts.push_back(rest);
  return parts;
}

// Tensors larger than this are listed but not decoded, so that a valid header announcing a big tensor does
// not make the fuzzer spend its time (and memory) converting it.
constexpr uint64_t kMaxDecodeElements = uint64_t(1) << 20;

// Runs fn; sq::Error is the documented refusal, anything else aborts with the exception's text.
template <typename Fn>
void expect_only_sq_errors(const char* target, Fn&& fn) {
  try {
    fn();
  } catch (const sq::Error& e) {
    if (e.code() == SQ_ERR_INTERNAL) {
      std::fprintf(stderr, "%s: SQ_ERR_INTERNAL escaped: %s\n", target, e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: non-sq exception escaped: %s\n", target, e.what());
    std::abort();
  }
}

}  // namespace sqfuzz
