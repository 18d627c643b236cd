// Writers' packed layouts via read-back: spool two layers, write each format, reopen with the
// dequantizing reader, and compare with the quantizer's weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/safetensors_source.hpp"
#include "io/safetensors_writer.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/reader_quantized.hpp"
#include "pipeline/spool.hpp"
#include "pipeline/writer.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("sq_writers_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A per-channel affine layer whose scales are exact in fp16, so GPTQ/LUT read-back is exact too.
sq::QuantizedLayer layer(int64_t rows, int64_t cols, uint32_t seed) {
  sq::QuantizedLayer l;
  l.rows = rows;
  l.cols = cols;
  l.bits = 4;
  l.group_size = -1;
  l.n_groups = 1;
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < rows * cols; ++i) l.codes.push_back(uint8_t(rng() % 16));
  for (int64_t n = 0; n < rows; ++n) {
    l.scales.push_back(std::ldexp(1.0f, -int(rng() % 6)));
    l.zeros.push_back(float(1 + rng() % 15));
  }
  l.dequant = sq::decode_weights(l);
  return l;
}

}  // namespace

TEST(Writers, EveryFormatReadsBackTheQuantizedWeights) {
  TempDir tmp;
  const int64_t rows = 8, cols = 32;
  const std::string prefix = "model.layers.0.self_attn.q_proj";
  // A source model: the layer's original weight and one pass-through tensor.
  const std::string src_path = (tmp.path / "src.safetensors").string();
  {
    sq::SafetensorsWriter w(src_path);
    w.declare(prefix + ".weight", SQ_DTYPE_F32, {rows, cols});
    w.declare("model.norm.weight", SQ_DTYPE_F16, {cols});
    std::vector<float> zeros(size_t(rows * cols), 0.5f), norm(size_t(cols), 1.0f);
    w.write_f32(prefix + ".weight", zeros.data(), zeros.size());
    w.write_f32("model.norm.weight", norm.data(), norm.size());
    w.finish();
  }
  sq::ModelFiles model;
  model.path = src_path;
  model.weights = sq::open_safetensors_file(src_path);
  const auto q = layer(rows, cols, 9);
  const std::string spool = sq::spool_block_path(tmp.path.string(), 0);
  sq::write_spool_block(spool, {{prefix, q}});
  sq::JobOptions opts;
  opts.group_size = -1;
  const sq::WriteRequest req{model, opts, {spool}};

  for (const std::string format : {"gptq", "lut", "sq"}) {
    const std::string out = (tmp.path / ("out_" + format)).string();
    const sq::OutputStats stats = sq::write_output(out, format, req);
    ASSERT_TRUE(fs::exists(out + "/config.json")) << format;
    // Effective bits count every stored byte of the layer. GPTQ: 4-bit codes + per row an int32-packed zero
    // (4 bits), an fp16 scale, plus the int32 g_idx per column. LUT: codes + 16 fp16 levels per row.
    EXPECT_EQ(stats.quantized_weights, rows * cols) << format;
    if (format == "gptq") {
      EXPECT_EQ(stats.quantized_bytes, rows * cols / 2 + rows / 2 + 2 * rows + 4 * cols);
    } else if (format == "lut") {
      EXPECT_EQ(stats.quantized_bytes, rows * cols / 2 + 2 * 16 * rows);
    } else {
      EXPECT_GT(stats.quantized_bytes, 0);
    }
    std::printf("%s: %.3f effective bits per weight (%lld bytes)\n", format.c_str(), stats.bits_per_weight(),
                (long long)stats.quantized_bytes);
    std::ifstream cfg(out + "/config.json");
    const auto config = nlohmann::json::parse(cfg);
    EXPECT_DOUBLE_EQ(config.at("quantization_config").at("effective_bits_per_weight").get<double>(),
                     stats.bits_per_weight());
    const auto src = sq::open_quantized_weights(out);
    ASSERT_NE(src, nullptr) << format;
    const auto w = src->read_f32(prefix + ".weight");
    ASSERT_EQ(w.size(), q.dequant.size());
    EXPECT_EQ(std::memcmp(w.data(), q.dequant.data(), w.size() * 4), 0) << format;
    EXPECT_EQ(src->read_f32("model.norm.weight")[0], 1.0f);
    EXPECT_EQ(src->find(prefix + ".qweight"), SIZE_MAX) << format;  // packed parts are hidden
  }
  // GPTQ v1: zeros stored minus one, and the packed words follow FORMATS.md.
  const auto gptq = sq::open_safetensors_file((tmp.path / "out_gptq" / "model.safetensors").string());
  const auto& qz = gptq->tensors()[gptq->require(prefix + ".qzeros")];
  EXPECT_EQ(qz.shape, (std::vector<int64_t>{1, rows * 4 / 32}));
  const auto* zw = static_cast<const uint32_t*>(gptq->raw_data(gptq->require(prefix + ".qzeros")));
  EXPECT_EQ(zw[0] & 0xF, uint32_t(q.zeros[0]) - 1);
  const auto* qw = static_cast<const uint32_t*>(gptq->raw_data(gptq->require(prefix + ".qweight")));
  EXPECT_EQ(qw[0] & 0xF, q.codes[0]);          // input 0 of output 0
  EXPECT_EQ((qw[1] >> 4) & 0xF, q.codes[cols + 1]);  // input 1 of output 1
  // An existing output directory is refused, and a plain model dir is not a quantized output.
  EXPECT_THROW(sq::write_output((tmp.path / "out_sq").string(), "sq", req), sq::Error);
  EXPECT_EQ(sq::open_quantized_weights(tmp.path.string()), nullptr);
  EXPECT_THROW(sq::write_output((tmp.path / "x").string(), "gguf", req), sq::Error);
  EXPECT_FALSE(fs::exists(tmp.path / "x"));
}
