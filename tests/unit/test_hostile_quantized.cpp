// Regression tests for inputs the fuzz targets (fuzz/fuzz_layer_codec.cpp, fuzz/fuzz_quantized_reader.cpp)
// showed to be mishandled: a scheme whose rows x cols overflows int64, a zstd frame that claims far more
// content than its bytes can hold, and an sq output whose scheme lacks its shape. Each must be SQ_ERR_FORMAT
// naming the layer, not undefined behaviour, a huge allocation or a JSON library exception.
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/layer_codec.hpp"
#include "pipeline/reader_quantized.hpp"
#include "pipeline/spool.hpp"
#include "test_files.hpp"

namespace {

sq::QuantizedLayer small_layer() {
  sq::QuantizedLayer l;
  l.rows = 4;
  l.cols = 8;
  l.bits = 4;
  l.group_size = -1;
  l.n_groups = 1;
  l.codes.assign(32, 3);
  l.scales.assign(4, 0.5f);
  l.zeros.assign(4, 8.0f);
  l.dequant.assign(32, 0.5f * (3.0f - 8.0f));
  l.method = "test";
  return l;
}

using Store = std::map<std::string, std::vector<uint8_t>>;

sq::PayloadFetch fetch_from(const Store& store) {
  return [&store](const std::string& part) {
    const auto& v = store.at(part);
    return std::make_pair(v.data(), v.size());
  };
}

TEST(HostileQuantized, SchemeShapeProductOverflowIsAFormatError) {
  const auto enc = sq::encode_layer(small_layer());
  Store store;
  for (const auto& p : enc.payloads) store[p.part] = p.frame;
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{int64_t(1) << 40, int64_t(1) << 40},
                            {int64_t(1) << 62, 4}, {3, int64_t(1) << 61}}) {
    auto scheme = enc.scheme;
    scheme["rows"] = rows;
    scheme["cols"] = cols;
    scheme["n_groups"] = 1;
    sqtest::expect_error([&] { sq::decode_layer(scheme, fetch_from(store), "blk.q"); }, SQ_ERR_FORMAT,
                         {"blk.q", "not a layer size"});
  }
}

TEST(HostileQuantized, ZstdFrameClaimingMoreThanItCanHoldIsRefusedBeforeAllocating) {
  // A 1 TiB code payload (2^20 x 2^20 8-bit codes) announced by a 17-byte frame: magic, a single-segment
  // descriptor with an 8-byte content size, and one raw block of one byte.
  const uint64_t claimed = uint64_t(1) << 40;
  std::vector<uint8_t> frame = {0x28, 0xB5, 0x2F, 0xFD, 0xE0};
  for (int i = 0; i < 8; ++i) frame.push_back(uint8_t(claimed >> (8 * i)));
  frame.insert(frame.end(), {0x09, 0x00, 0x00, 0x00});  // last raw block, size 1; then its byte
  auto layer = small_layer();
  layer.bits = 8;
  const auto enc = sq::encode_layer(layer);
  auto scheme = enc.scheme;
  scheme["rows"] = int64_t(1) << 20;
  scheme["cols"] = int64_t(1) << 20;
  scheme["payloads"]["codes"]["raw_bytes"] = claimed;
  Store store;
  for (const auto& p : enc.payloads) store[p.part] = p.frame;
  store["codes"] = frame;
  sqtest::expect_error([&] { sq::decode_layer(scheme, fetch_from(store), "blk.q"); }, SQ_ERR_FORMAT,
                       {"blk.q.sq.codes", "zstd frame"});
}

TEST(HostileQuantized, SqOutputWhoseSchemeLacksItsShapeIsAFormatError) {
  for (const char* key : {"rows", "cols"}) {
    sqtest::TempDir tmp;
    const std::string st = tmp.file("model.safetensors");
    sq::write_spool_block(st, {{"model.layers.0.self_attn.q_proj", small_layer()}});
    // Rewrite the header with the scheme's `key` removed.
    std::string bytes = sqtest::read_bytes(st);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    auto header = nlohmann::json::parse(bytes.substr(8, size_t(n)));
    auto& meta = header["__metadata__"];
    const std::string scheme_key = std::string(sq::kSqSchemePrefix) + "model.layers.0.self_attn.q_proj";
    ASSERT_TRUE(meta.contains(scheme_key));
    auto scheme = nlohmann::json::parse(meta[scheme_key].get<std::string>());
    scheme.erase(key);
    meta[scheme_key] = scheme.dump();
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    const uint64_t len = text.size();
    std::string out(reinterpret_cast<const char*>(&len), 8);
    sqtest::write_bytes(st, out + text + bytes.substr(8 + size_t(n)));
    sqtest::write_bytes(tmp.file("config.json"), R"({"quantization_config": {"quant_method": "streamquant"}})");
    sqtest::expect_error([&] { sq::open_quantized_weights(tmp.path()); }, SQ_ERR_FORMAT,
                         {"model.layers.0.self_attn.q_proj", key});
  }
}

}  // namespace
