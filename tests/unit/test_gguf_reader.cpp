// GGUF container parsing: metadata of every value type, tensor infos, alignment, and hostile files.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf_test_writer.hpp"
#include "io/gguf_reader.hpp"
#include "util/error.hpp"

namespace {

using sqtest::GgufWriter;

// A small valid file with every scalar type, two arrays and two tensors.
GgufWriter sample_writer() {
  GgufWriter w;
  w.kv_string("general.architecture", "llama");
  w.kv_raw("k.u8", GgufWriter::U8, {200});
  w.kv_raw("k.i8", GgufWriter::I8, {0xfe});
  w.kv_raw("k.u16", GgufWriter::U16, {0x34, 0x12});
  w.kv_raw("k.i16", GgufWriter::I16, {0xff, 0xff});
  w.kv_u32("k.u32", 4000000000u);
  w.kv_i32("k.i32", -7);
  w.kv_f32("k.f32", 0.5f);
  w.kv_bool("k.bool", true);
  w.kv_u64("k.u64", 1ull << 40);
  w.kv_raw("k.i64", GgufWriter::I64, {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  w.kv_f64("k.f64", 2.25);
  w.kv_strings("k.strs", {"a", "", "héllo"});
  w.kv_i32s("k.ints", {1, -2, 3});
  w.tensor("w", {4, 2}, 0, sqtest::f32_bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  w.tensor("n", {3}, 0, sqtest::f32_bytes({9, 10, 11}));
  return w;
}

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = sqtest::temp_path(name);
  GgufWriter::save(path, bytes);
  return path;
}

// Opens `path` expecting an sq::Error with `code` whose message names the file and contains `needle`.
void expect_error(const std::string& path, int32_t code, const std::string& needle) {
  try {
    sq::GgufFile f(path);
    FAIL() << "opened without error; expected " << needle;
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufReader, ParsesEveryValueType) {
  const std::string path = write_file("types.gguf", sample_writer().bytes());
  sq::GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 14u);
  EXPECT_EQ(f.get_string("general.architecture", ""), "llama");
  EXPECT_EQ(f.get_u64("k.u8", 0), 200u);
  EXPECT_EQ(f.find("k.i8")->ints[0], -2);
  EXPECT_EQ(f.get_u64("k.u16", 0), 0x1234u);
  EXPECT_EQ(f.find("k.i16")->ints[0], -1);
  EXPECT_EQ(f.get_u64("k.u32", 0), 4000000000u);
  EXPECT_EQ(f.find("k.i32")->ints[0], -7);
  EXPECT_EQ(f.get_f64("k.f32", 0), 0.5);
  EXPECT_TRUE(f.get_bool("k.bool", false));
  EXPECT_EQ(f.get_u64("k.u64", 0), 1ull << 40);
  EXPECT_EQ(f.find("k.i64")->ints[0], -5);
  EXPECT_EQ(f.get_f64("k.f64", 0), 2.25);
  ASSERT_NE(f.get_string_array("k.strs"), nullptr);
  EXPECT_EQ(*f.get_string_array("k.strs"), (std::vector<std::string>{"a", "", "héllo"}));
  EXPECT_EQ(*f.get_int_array("k.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.get_u64("absent", 17), 17u);
  EXPECT_EQ(f.get_string_array("absent"), nullptr);
  std::remove(path.c_str());
}

TEST(GgufReader, WrongTypedLookupsNameTheKey) {
  const std::string path = write_file("wrongtype.gguf", sample_writer().bytes());
  sq::GgufFile f(path);
  for (auto call : {+[](const sq::GgufFile& g) { g.get_u64("k.f32", 0); },
                    +[](const sq::GgufFile& g) { g.get_u64("k.i32", 0); },  // negative
                    +[](const sq::GgufFile& g) { g.get_string("k.u8", ""); },
                    +[](const sq::GgufFile& g) { g.get_bool("k.u8", false); },
                    +[](const sq::GgufFile& g) { g.get_string_array("k.ints"); }}) {
    try {
      call(f);
      ADD_FAILURE() << "no error";
    } catch (const sq::Error& e) {
      EXPECT_EQ(e.code(), SQ_ERR_FORMAT);
      EXPECT_NE(std::string(e.what()).find("metadata key 'k."), std::string::npos) << e.what();
    }
  }
  std::remove(path.c_str());
}

TEST(GgufReader, TensorInfosAndData) {
  const std::string path = write_file("tensors.gguf", sample_writer().bytes());
  sq::GgufFile f(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  const auto& w = f.tensors()[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.ne, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(w.dtype, SQ_DTYPE_F32);
  EXPECT_EQ(w.nbytes, 32u);
  float v[8];
  std::memcpy(v, f.tensor_data(0), 32);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[7], 8.0f);
  std::memcpy(v, f.tensor_data(1), 12);
  EXPECT_EQ(v[2], 11.0f);
  EXPECT_EQ(f.find_tensor("n"), 1u);
  EXPECT_EQ(f.find_tensor("x"), SIZE_MAX);
  std::remove(path.c_str());
}

TEST(GgufReader, HonoursGeneralAlignmentAndVersion2) {
  GgufWriter w;
  w.kv_u32("general.alignment", 64);
  w.tensor("a", {3}, 0, sqtest::f32_bytes({1, 2, 3}));
  w.tensor("b", {2}, 0, sqtest::f32_bytes({4, 5}));
  const std::string path = write_file("align.gguf", w.bytes(2, 64));
  sq::GgufFile f(path);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.tensors()[1].offset, 64u);
  float v[2];
  std::memcpy(v, f.tensor_data(1), 8);
  EXPECT_EQ(v[1], 5.0f);
  std::remove(path.c_str());
}

// Every strict prefix of a valid file is refused with SQ_ERR_FORMAT naming the file; none crashes.
TEST(GgufReader, EveryTruncationIsAFormatError) {
  const std::vector<uint8_t> full = sample_writer().bytes();
  const std::string path = sqtest::temp_path("trunc.gguf");
  // The last tensor's data ends before the final padding: cutting only padding leaves a valid file.
  const size_t data_end = full.size() - 32 + 12;
  for (size_t n = 0; n < data_end; ++n) {
    GgufWriter::save(path, std::vector<uint8_t>(full.begin(), full.begin() + long(n)));
    try {
      sq::GgufFile f(path);
      ADD_FAILURE() << "prefix of " << n << " bytes opened";
    } catch (const sq::Error& e) {
      ASSERT_EQ(e.code(), SQ_ERR_FORMAT) << "prefix " << n << ": " << e.what();
      ASSERT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::remove(path.c_str());
}

std::vector<uint8_t> header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  std::vector<uint8_t> b;
  GgufWriter::append(b, uint32_t(0x46554747u));
  GgufWriter::append(b, version);
  GgufWriter::append(b, n_tensors);
  GgufWriter::append(b, n_kv);
  b.resize(b.size() + 64, 0);
  return b;
}

TEST(GgufReader, RefusesHostileHeaders) {
  const std::string path = sqtest::temp_path("hostile.gguf");
  std::vector<uint8_t> b = sample_writer().bytes();
  b[0] = 'X';
  GgufWriter::save(path, b);
  expect_error(path, SQ_ERR_FORMAT, "not a GGUF file");

  GgufWriter::save(path, header(1, 0, 0));
  expect_error(path, SQ_ERR_UNSUPPORTED, "version 1");
  GgufWriter::save(path, header(4, 0, 0));
  expect_error(path, SQ_ERR_UNSUPPORTED, "version 4");
  GgufWriter::save(path, header(3, uint64_t(1) << 60, 0));
  expect_error(path, SQ_ERR_FORMAT, "tensor count");
  GgufWriter::save(path, header(3, 0, uint64_t(1) << 60));
  expect_error(path, SQ_ERR_FORMAT, "metadata key count");
  std::remove(path.c_str());
}

TEST(GgufReader, RefusesHostileMetadata) {
  const std::string path = sqtest::temp_path("hostile_kv.gguf");
  {  // string value whose length runs past the end of the file
    GgufWriter w;
    std::vector<uint8_t> v;
    GgufWriter::append(v, uint64_t(1) << 40);
    w.kv_raw("general.name", GgufWriter::STRING, v);
    GgufWriter::save(path, w.bytes());
    expect_error(path, SQ_ERR_FORMAT, "metadata key 'general.name': string length 1099511627776");
  }
  {  // array with 2^60 elements
    GgufWriter w;
    std::vector<uint8_t> v;
    GgufWriter::append(v, uint32_t(GgufWriter::U32));
    GgufWriter::append(v, uint64_t(1) << 60);
    w.kv_raw("big", GgufWriter::ARRAY, v);
    GgufWriter::save(path, w.bytes());
    expect_error(path, SQ_ERR_FORMAT, "metadata key 'big': array length");
  }
  {  // nested array
    GgufWriter w;
    std::vector<uint8_t> v;
    GgufWriter::append(v, uint32_t(GgufWriter::ARRAY));
    GgufWriter::append(v, uint64_t(0));
    w.kv_raw("nest", GgufWriter::ARRAY, v);
    GgufWriter::save(path, w.bytes());
    expect_error(path, SQ_ERR_UNSUPPORTED, "metadata key 'nest': nested arrays");
  }
  {  // unknown value type
    GgufWriter w;
    w.kv_raw("odd", 13, {0, 0, 0, 0});
    GgufWriter::save(path, w.bytes());
    expect_error(path, SQ_ERR_FORMAT, "metadata key 'odd': unknown value type 13");
  }
  {  // bad alignment
    GgufWriter w;
    w.kv_u32("general.alignment", 48);
    GgufWriter::save(path, w.bytes());
    expect_error(path, SQ_ERR_FORMAT, "general.alignment");
  }
  {  // duplicate key
    GgufWriter w;
    w.kv_u32("a", 1);
    w.kv_u32("a", 2);
    GgufWriter::save(path, w.bytes());
    expect_error(path, SQ_ERR_FORMAT, "'a' appears twice");
  }
  std::remove(path.c_str());
}

// Builds a file with tensor "t" whose info fields are overridden after writing.
std::vector<uint8_t> one_tensor(uint32_t type, std::vector<uint64_t> ne, size_t nbytes) {
  GgufWriter w;
  w.tensor("t", std::move(ne), type, std::vector<uint8_t>(nbytes, 0));
  return w.bytes();
}

// Position of the tensor offset field of the only tensor ("t") in a file with no metadata.
size_t offset_field(size_t n_dims) { return 24 + 8 + 1 + 4 + 8 * n_dims + 4; }

TEST(GgufReader, RefusesHostileTensorInfos) {
  const std::string path = sqtest::temp_path("hostile_t.gguf");
  {  // offset past the end of the file
    auto b = one_tensor(0, {8}, 32);
    const uint64_t off = 1ull << 40;
    std::memcpy(&b[offset_field(1)], &off, 8);
    GgufWriter::save(path, b);
    expect_error(path, SQ_ERR_FORMAT, "tensor 't': data [1099511627776");
  }
  {  // offset not aligned
    auto b = one_tensor(0, {8}, 32);
    const uint64_t off = 4;
    std::memcpy(&b[offset_field(1)], &off, 8);
    GgufWriter::save(path, b);
    expect_error(path, SQ_ERR_FORMAT, "tensor 't': offset 4 is not a multiple");
  }
  {  // unknown and unsupported ggml types
    GgufWriter::save(path, one_tensor(99, {32}, 64));
    expect_error(path, SQ_ERR_UNSUPPORTED, "tensor 't' has ggml type 99 (unknown)");
    GgufWriter::save(path, one_tensor(13, {256}, 176));
    expect_error(path, SQ_ERR_UNSUPPORTED, "tensor 't' has ggml type 13 (Q5_K)");
  }
  {  // too many dims, zero dim, huge dim, rows that are not whole blocks
    GgufWriter::save(path, one_tensor(0, {1, 1, 1, 1, 1}, 4));
    expect_error(path, SQ_ERR_FORMAT, "tensor 't': n_dims 5");
    GgufWriter::save(path, one_tensor(0, {0}, 0));
    expect_error(path, SQ_ERR_FORMAT, "ne[0] = 0 is zero");
    GgufWriter::save(path, one_tensor(0, {1ull << 40, 1ull << 40}, 4));
    expect_error(path, SQ_ERR_FORMAT, "ne[1] = 1099511627776");
    GgufWriter::save(path, one_tensor(3, {16, 2}, 40));
    expect_error(path, SQ_ERR_FORMAT, "row length ne[0] = 16 is not a multiple of the Q4_1 block size 32");
  }
  {  // overlapping tensors and duplicate names
    GgufWriter w;
    w.tensor("a", {16}, 0, std::vector<uint8_t>(64, 0));
    w.tensor("b", {8}, 0, std::vector<uint8_t>(32, 0));
    auto b = w.bytes();
    const size_t b_offset = 24 + (8 + 1 + 4 + 8 + 4 + 8) + (8 + 1 + 4 + 8 + 4);
    const uint64_t off = 32;  // inside a's 64 bytes
    std::memcpy(&b[b_offset], &off, 8);
    GgufWriter::save(path, b);
    expect_error(path, SQ_ERR_FORMAT, "tensors 'a' and 'b' overlap");

    GgufWriter d;
    d.tensor("a", {8}, 0, std::vector<uint8_t>(32, 0));
    d.tensor("a", {8}, 0, std::vector<uint8_t>(32, 0));
    GgufWriter::save(path, d.bytes());
    expect_error(path, SQ_ERR_FORMAT, "tensor name 'a' appears twice");
  }
  std::remove(path.c_str());
}

TEST(GgufReader, MissingFileIsAnIoError) {
  try {
    sq::GgufFile f("/nonexistent/dir/model.gguf");
    FAIL();
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_IO);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos);
  }
}

}  // namespace
