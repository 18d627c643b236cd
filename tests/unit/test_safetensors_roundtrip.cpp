// SafetensorsWriter -> open_safetensors_file / open_safetensors_index round trips, and the writer's own checks.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/safetensors_source.hpp"
#include "io/safetensors_writer.hpp"
#include "test_files.hpp"
#include "util/half.hpp"

namespace {

using sqtest::expect_error;
using sqtest::TempDir;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The JSON header of a safetensors file, as written.
nlohmann::json header_of(const std::string& path, uint64_t* header_len = nullptr) {
  const std::string bytes = sqtest::read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (header_len) *header_len = n;
  return nlohmann::json::parse(bytes.substr(8, size_t(n)));
}

struct Spec {
  std::string name;
  sq::DType dtype;
  std::vector<int64_t> shape;
};

TEST(SafetensorsRoundTrip, EveryDtypeBytesAndFloats) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  const std::vector<Spec> specs = {
      {"a.f32", SQ_DTYPE_F32, {2, 3}}, {"b.f16", SQ_DTYPE_F16, {4}},     {"c.bf16", SQ_DTYPE_BF16, {3, 1, 2}},
      {"d.i32", SQ_DTYPE_I32, {2}},    {"e.i8", SQ_DTYPE_I8, {5}},       {"f.u8", SQ_DTYPE_U8, {3}},
      {"g.empty", SQ_DTYPE_F32, {0, 4}}, {"h.scalar", SQ_DTYPE_F16, {}},
  };
  std::vector<std::vector<uint8_t>> payloads;
  {
    sq::SafetensorsWriter w(path);
    w.set_metadata("format", "pt");
    for (const Spec& s : specs) w.declare(s.name, s.dtype, s.shape);
    for (size_t i = 0; i < specs.size(); ++i) {
      uint64_t numel = 1;
      for (int64_t d : specs[i].shape) numel *= uint64_t(d);
      payloads.push_back(random_bytes(size_t(numel) * sq::dtype_size(specs[i].dtype), 100 + uint32_t(i)));
      // Keep float payloads finite so the fp32 comparison below is meaningful.
      if (specs[i].dtype == SQ_DTYPE_F32)
        for (size_t k = 0; k < payloads[i].size(); k += 4) payloads[i][k + 3] &= 0x3f;
      if (specs[i].dtype == SQ_DTYPE_F16 || specs[i].dtype == SQ_DTYPE_BF16)
        for (size_t k = 0; k < payloads[i].size(); k += 2) payloads[i][k + 1] &= 0x3b;
      w.write(specs[i].name, payloads[i].data(), payloads[i].size());
    }
    w.finish();
  }
  EXPECT_EQ(dir.list(), std::vector<std::string>{"m.safetensors"});  // the temporary is gone

  uint64_t header_len = 0;
  const nlohmann::json h = header_of(path, &header_len);
  EXPECT_EQ(header_len % 8, 0u) << "data section must start 8-byte aligned";
  EXPECT_EQ(h["__metadata__"]["format"], "pt");
  EXPECT_EQ(h["a.f32"]["dtype"], "F32");
  EXPECT_EQ(h["c.bf16"]["shape"], nlohmann::json({3, 1, 2}));

  const auto src = sq::open_safetensors_file(path);
  EXPECT_STREQ(src->format(), "safetensors");
  ASSERT_EQ(src->tensors().size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const size_t idx = src->find(specs[i].name);
    ASSERT_NE(idx, SIZE_MAX) << specs[i].name;
    const sq::TensorDesc& t = src->tensors()[idx];
    EXPECT_EQ(t.dtype, specs[i].dtype) << t.name;
    EXPECT_EQ(t.shape, specs[i].shape) << t.name;
    const auto* raw = static_cast<const uint8_t*>(src->raw_data(idx));
    ASSERT_EQ(std::vector<uint8_t>(raw, raw + payloads[i].size()), payloads[i]) << t.name;
    if (sq::dtype_is_float(t.dtype)) {
      std::vector<float> expect(t.numel()), got(t.numel());
      if (!expect.empty()) sq::convert_to_f32(t.dtype, payloads[i].data(), expect.data(), expect.size());
      src->read_f32(idx, got.data());
      EXPECT_EQ(got, expect) << t.name;
    } else {
      std::vector<float> got(t.numel());
      expect_error([&] { src->read_f32(idx, got.data()); }, SQ_ERR_UNSUPPORTED, {path, t.name, sq::dtype_name(t.dtype)});
    }
  }
}

TEST(SafetensorsRoundTrip, WriteF32ConvertsToDeclaredDtype) {
  TempDir dir;
  const std::string path = dir.file("c.safetensors");
  const std::vector<float> x = random_floats(200000, 7);  // more than one conversion slice
  {
    sq::SafetensorsWriter w(path);
    w.declare("h", SQ_DTYPE_F16, {int64_t(x.size())});
    w.declare("b", SQ_DTYPE_BF16, {int64_t(x.size())});
    w.declare("f", SQ_DTYPE_F32, {int64_t(x.size())});
    w.write_f32("h", x.data(), x.size());
    w.write_f32("b", x.data(), 1000);  // in two pieces
    w.write_f32("b", x.data() + 1000, x.size() - 1000);
    w.write_f32("f", x.data(), x.size());
    w.finish();
  }
  const auto src = sq::open_safetensors_file(path);
  const std::vector<float> h = src->read_f32("h"), b = src->read_f32("b"), f = src->read_f32("f");
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(h[i], sq::half_to_float(sq::float_to_half(x[i]))) << i;
    ASSERT_EQ(b[i], sq::bf16_to_float(sq::float_to_bf16(x[i]))) << i;
  }
  EXPECT_EQ(f, x);
}

TEST(SafetensorsRoundTrip, ChunkedWritesOfAnySizeGiveTheSameFile) {
  TempDir dir;
  // 1.5M floats (6 MB) exceeds the writer's staging buffer, so both the buffered and direct paths run.
  const std::vector<float> big = random_floats(1500000, 3), small = random_floats(1000, 4);
  auto write_with = [&](const std::string& path, uint32_t seed) {
    sq::SafetensorsWriter w(path);
    w.declare("small", SQ_DTYPE_F32, {10, 100});
    w.declare("big", SQ_DTYPE_F32, {1500, 1000});
    std::mt19937 rng(seed);
    for (const auto* v : {&small, &big}) {
      const char* name = v == &small ? "small" : "big";
      const auto* bytes = reinterpret_cast<const uint8_t*>(v->data());
      const size_t total = v->size() * 4;
      for (size_t off = 0; off < total;) {
        // Chunks from 0 bytes (legal no-op) up to 6 MB, cutting through element boundaries too.
        const size_t n = seed == 0 ? total : std::min(total - off, size_t(rng() % (seed == 1 ? 97u : 6000000u)));
        w.write(name, bytes + off, n);
        off += n;
      }
    }
    w.finish();
  };
  write_with(dir.file("whole.safetensors"), 0);
  write_with(dir.file("tiny_chunks.safetensors"), 1);
  write_with(dir.file("big_chunks.safetensors"), 2);
  const std::string whole = sqtest::read_bytes(dir.file("whole.safetensors"));
  EXPECT_EQ(sqtest::read_bytes(dir.file("tiny_chunks.safetensors")), whole);
  EXPECT_EQ(sqtest::read_bytes(dir.file("big_chunks.safetensors")), whole);
  const auto src = sq::open_safetensors_file(dir.file("big_chunks.safetensors"));
  EXPECT_EQ(src->read_f32("big"), big);
  EXPECT_EQ(src->read_f32("small"), small);
}

TEST(SafetensorsWriter, RefusesMoreOrFewerBytesThanDeclared) {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  const std::vector<float> v(8, 1.0f);
  {
    sq::SafetensorsWriter w(path);
    w.declare("t", SQ_DTYPE_F32, {4});
    expect_error([&] { w.write("t", v.data(), 5 * 4); }, SQ_ERR_STATE, {path, "'t'", "exceed"});
    expect_error([&] { w.finish(); }, SQ_ERR_STATE, {path, "earlier error"});
  }
  {
    sq::SafetensorsWriter w(path);
    w.declare("t", SQ_DTYPE_F32, {4});
    w.write("t", v.data(), 3 * 4);
    expect_error([&] { w.finish(); }, SQ_ERR_STATE, {path, "'t'", "12 of its declared 16"});
  }
  {
    sq::SafetensorsWriter w(path);
    w.declare("t", SQ_DTYPE_F32, {4});
    w.declare("u", SQ_DTYPE_F32, {4});
    expect_error([&] { w.finish(); }, SQ_ERR_STATE, {path, "'t'", "0 of its declared 16"});
  }
  EXPECT_TRUE(dir.list().empty()) << "failed writers must leave nothing behind";
}

TEST(SafetensorsWriter, EnforcesDeclarationOrderAndNames) {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  const std::vector<float> v(4, 1.0f);
  auto fresh = [&](sq::SafetensorsWriter& w) {
    w.declare("a", SQ_DTYPE_F32, {2});
    w.declare("empty", SQ_DTYPE_F32, {0});
    w.declare("b", SQ_DTYPE_F32, {2});
  };
  {
    sq::SafetensorsWriter w(path);
    fresh(w);
    expect_error([&] { w.write("b", v.data(), 8); }, SQ_ERR_STATE, {path, "'b'", "'a'", "declaration order"});
  }
  {
    sq::SafetensorsWriter w(path);
    fresh(w);
    w.write("a", v.data(), 8);
    w.write("b", v.data(), 8);  // the empty tensor in between needs no call
    expect_error([&] { w.write("a", v.data(), 0); }, SQ_ERR_STATE, {path, "'a'", "out of declaration order"});
  }
  {
    sq::SafetensorsWriter w(path);
    fresh(w);
    w.write("a", v.data(), 8);
    expect_error([&] { w.declare("c", SQ_DTYPE_F32, {1}); }, SQ_ERR_STATE, {path, "'c'", "after data"});
  }
  {
    sq::SafetensorsWriter w(path);
    fresh(w);
    expect_error([&] { w.declare("a", SQ_DTYPE_F32, {1}); }, SQ_ERR_INVALID_ARGUMENT, {path, "'a'", "twice"});
    expect_error([&] { w.declare("__metadata__", SQ_DTYPE_F32, {1}); }, SQ_ERR_INVALID_ARGUMENT, {path});
    expect_error([&] { w.declare("n", SQ_DTYPE_F32, {2, -1}); }, SQ_ERR_INVALID_ARGUMENT, {path, "'n'", "negative"});
    expect_error([&] { w.declare("q", SQ_DTYPE_Q4_1, {32}); }, SQ_ERR_UNSUPPORTED, {path, "'q'", "Q4_1"});
    expect_error([&] { w.write("zzz", v.data(), 4); }, SQ_ERR_STATE, {path, "'zzz'", "never declared"});
  }
  EXPECT_TRUE(dir.list().empty());
}

TEST(SafetensorsWriter, UnwritableDestinationFailsWithItsPath) {
  TempDir dir;
  const std::string path = dir.file("no_such_dir/x.safetensors");
  expect_error([&] { sq::SafetensorsWriter w(path); }, SQ_ERR_IO, {path});
}

TEST(SafetensorsWriter, FinishReplacesAnExistingFileAtomically) {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  sqtest::write_bytes(path, "old contents");
  const float one = 1.0f;
  {
    sq::SafetensorsWriter w(path);
    w.declare("t", SQ_DTYPE_F32, {1});
    w.write("t", &one, 4);
    EXPECT_EQ(sqtest::read_bytes(path), "old contents") << "the destination must not change before finish()";
    w.finish();
  }
  EXPECT_EQ(sq::open_safetensors_file(path)->read_f32("t"), std::vector<float>{1.0f});
  EXPECT_EQ(dir.list(), std::vector<std::string>{"x.safetensors"});
}

// Two shards plus an index, as Hugging Face writes them.
struct ShardedModel {
  TempDir dir;
  std::vector<float> a = random_floats(6, 1), b = random_floats(4, 2), c = random_floats(5, 3);
  ShardedModel() {
    {
      sq::SafetensorsWriter w(dir.file("model-00001-of-00002.safetensors"));
      w.declare("a", SQ_DTYPE_F32, {2, 3});
      w.declare("b", SQ_DTYPE_F16, {4});
      w.declare("unlisted", SQ_DTYPE_F32, {1});
      w.write_f32("a", a.data(), a.size());
      w.write_f32("b", b.data(), b.size());
      w.write_f32("unlisted", a.data(), 1);
      w.finish();
    }
    {
      sq::SafetensorsWriter w(dir.file("model-00002-of-00002.safetensors"));
      w.declare("c", SQ_DTYPE_BF16, {5});
      w.write_f32("c", c.data(), c.size());
      w.finish();
    }
  }
  std::string index(const nlohmann::json& weight_map) const {
    const std::string path = dir.file("model.safetensors.index.json");
    sqtest::write_bytes(path, nlohmann::json{{"metadata", {{"total_size", 42}}}, {"weight_map", weight_map}}.dump());
    return path;
  }
};

TEST(SafetensorsIndex, OpensEveryShardAndOnlyMappedTensors) {
  ShardedModel m;
  const auto src = sq::open_safetensors_index(m.index({{"a", "model-00001-of-00002.safetensors"},
                                                       {"b", "model-00001-of-00002.safetensors"},
                                                       {"c", "model-00002-of-00002.safetensors"}}));
  ASSERT_EQ(src->tensors().size(), 3u);
  EXPECT_EQ(src->find("unlisted"), SIZE_MAX);
  EXPECT_EQ(src->read_f32("a"), m.a);
  std::vector<float> b_expect(m.b.size()), c_expect(m.c.size());
  for (size_t i = 0; i < m.b.size(); ++i) b_expect[i] = sq::half_to_float(sq::float_to_half(m.b[i]));
  for (size_t i = 0; i < m.c.size(); ++i) c_expect[i] = sq::bf16_to_float(sq::float_to_bf16(m.c[i]));
  EXPECT_EQ(src->read_f32("b"), b_expect);
  EXPECT_EQ(src->read_f32("c"), c_expect);
  EXPECT_EQ(src->tensors()[src->require("c")].shape, std::vector<int64_t>{5});
}

TEST(SafetensorsIndex, TensorMissingFromItsShardNamesBoth) {
  ShardedModel m;
  const std::string idx = m.index({{"a", "model-00001-of-00002.safetensors"}, {"c", "model-00001-of-00002.safetensors"}});
  expect_error([&] { sq::open_safetensors_index(idx); }, SQ_ERR_FORMAT,
               {idx, "'c'", "model-00001-of-00002.safetensors", "does not contain"});
}

TEST(SafetensorsIndex, RefusesShardPathsOutsideItsDirectory) {
  ShardedModel m;
  for (const char* bad : {"../model-00001-of-00002.safetensors", "/etc/passwd", "sub/x.safetensors", ""}) {
    const std::string idx = m.index({{"a", bad}});
    expect_error([&] { sq::open_safetensors_index(idx); }, SQ_ERR_FORMAT, {idx, "'a'", "plain file name"});
  }
}

TEST(SafetensorsIndex, MalformedIndexFiles) {
  ShardedModel m;
  const std::string idx = m.dir.file("model.safetensors.index.json");
  sqtest::write_bytes(idx, "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\",");
  expect_error([&] { sq::open_safetensors_index(idx); }, SQ_ERR_FORMAT, {idx, "not valid JSON"});
  sqtest::write_bytes(idx, "{\"weight_map\": {\"a\": \"s1\", \"a\": \"s2\"}}");
  expect_error([&] { sq::open_safetensors_index(idx); }, SQ_ERR_FORMAT, {idx, "duplicate key 'a'"});
  sqtest::write_bytes(idx, "{\"weight_map\": {\"a\": 3}}");
  expect_error([&] { sq::open_safetensors_index(idx); }, SQ_ERR_FORMAT, {idx, "'a'"});
  sqtest::write_bytes(idx, "{\"metadata\": {}}");
  expect_error([&] { sq::open_safetensors_index(idx); }, SQ_ERR_FORMAT, {idx, "weight_map"});
  const std::string gone = m.index({{"a", "model-00009-of-00009.safetensors"}});
  expect_error([&] { sq::open_safetensors_index(gone); }, SQ_ERR_IO, {"model-00009-of-00009.safetensors"});
  expect_error([&] { sq::open_safetensors_index(m.dir.file("absent.json")); }, SQ_ERR_IO, {"absent.json"});
}

}  // namespace
