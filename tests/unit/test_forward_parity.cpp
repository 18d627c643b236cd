// Parity with Hugging Face transformers on models written by bench/compare_transformers.py: each case
// directory holds config.json, a float32 model.safetensors, reference.json (tokens, reference perplexity)
// and logits.f32 (the reference logits). Skips unless SQ_PARITY_DIR names such a directory.
// Writes ours.json (max relative logits difference, perplexity) next to the reference for the script.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "io/gguf_source.hpp"
#include "io/model_config.hpp"
#include "model/forward.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Just enough safetensors for float32 test fixtures (the library's own reader is tested on its own).
sqtest::MemorySource read_f32_safetensors(const fs::path& p) {
  const std::string bytes = read_all(p);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_len));
  const char* data = bytes.data() + 8 + header_len;
  sqtest::MemorySource src;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (info.at("dtype") != "F32") throw std::runtime_error(name + ": the fixture must be float32");
    const auto begin = info.at("data_offsets").at(0).get<size_t>(), end = info.at("data_offsets").at(1).get<size_t>();
    std::vector<float> values((end - begin) / 4);
    std::memcpy(values.data(), data + begin, end - begin);
    src.add(name, info.at("shape").get<std::vector<int64_t>>(), std::move(values));
  }
  return src;
}

std::vector<fs::path> parity_cases() {
  std::vector<fs::path> cases;
  const char* dir = std::getenv("SQ_PARITY_DIR");
  if (dir == nullptr || !fs::is_directory(dir)) return cases;
  for (const auto& e : fs::directory_iterator(dir))
    if (fs::exists(e.path() / "reference.json")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

TEST(ForwardParity, LogitsAndPerplexityMatchTransformers) {
  const auto cases = parity_cases();
  if (cases.empty())
    GTEST_SKIP() << "SQ_PARITY_DIR is unset or holds no cases: run bench/compare_transformers.py to create them";
  for (const fs::path& dir : cases) {
    SCOPED_TRACE(dir.string());
    const auto ref = nlohmann::json::parse(read_all(dir / "reference.json"));
    // A case is either a float32 Hugging Face directory or a real GGUF model read by the library's reader.
    std::unique_ptr<sq::WeightSource> owned;
    std::optional<sq::ModelConfig> config;
    if (ref.contains("gguf")) {
      const std::string path = ref.at("gguf").get<std::string>();
      if (!fs::exists(path)) {
        ADD_FAILURE() << "GGUF model " << path << " is gone";
        continue;
      }
      sq::GgufModel gguf = sq::open_gguf_model(path);
      config = sq::parse_model_config(gguf.config, path);
      owned = std::move(gguf.weights);
    } else {
      config = sq::load_model_config((dir / "config.json").string());
      owned = std::make_unique<sqtest::MemorySource>(read_f32_safetensors(dir / "model.safetensors"));
    }
    const sq::ModelConfig& cfg = *config;
    const sq::WeightSource& src = *owned;
    const auto tokens = ref.at("tokens").get<std::vector<int32_t>>();
    const int64_t n = ref.at("logits_tokens").get<int64_t>(), vocab = ref.at("vocab").get<int64_t>();

    const std::string expected_bytes = read_all(dir / "logits.f32");
    ASSERT_EQ(expected_bytes.size(), size_t(n * vocab) * 4);
    std::vector<float> expected(size_t(n * vocab));
    std::memcpy(expected.data(), expected_bytes.data(), expected_bytes.size());

    const auto logits = sq::model_logits(sq::default_cpu_backend(), src, cfg, tokens.data(), n);
    ASSERT_EQ(logits.size(), expected.size());
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      diff = std::max(diff, std::fabs(double(logits[i]) - double(expected[i])));
      scale = std::max(scale, std::fabs(double(expected[i])));
    }
    const double rel = diff / scale;

    sq::PerplexityOptions opt;
    opt.seq_len = ref.at("seq_len").get<int64_t>();
    const auto ppl = sq::model_perplexity(sq::default_cpu_backend(), src, cfg, tokens.data(), tokens.size(), opt);
    const double ref_ppl = ref.at("ppl").get<double>();

    std::ofstream(dir / "ours.json") << nlohmann::json{{"logits_max_rel_diff", rel},
                                                       {"ppl", ppl.perplexity},
                                                       {"tokens_scored", ppl.tokens_scored}}
                                            .dump();
    EXPECT_LE(rel, 1e-4) << "logits max |ours - ref| / max |ref|";
    EXPECT_LE(std::fabs(ppl.perplexity - ref_ppl) / ref_ppl, 1e-3) << ppl.perplexity << " vs " << ref_ppl;
    EXPECT_EQ(ppl.tokens_scored, ref.at("tokens_scored").get<uint64_t>());
  }
}

}  // namespace
