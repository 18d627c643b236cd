// open_safetensors_file on corrupt and hostile files: every failure is an sq::Error with the right code and a
// message naming the file (and the tensor where one is at fault); nothing crashes or reads out of bounds.
#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "io/safetensors_source.hpp"
#include "test_files.hpp"

namespace {

using sqtest::expect_error;
using sqtest::TempDir;

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(uint8_t(v >> (8 * i)));
  return s;
}

// A file with the given header text and `data_bytes` bytes of data after it.
std::string st_file(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\x11');
}

class SafetensorsHostile : public ::testing::Test {
 protected:
  TempDir dir;
  std::string path = dir.file("bad.safetensors");

  void open_expect(const std::string& bytes, int32_t code, std::initializer_list<std::string> fragments) {
    sqtest::write_bytes(path, bytes);
    expect_error([&] { sq::open_safetensors_file(path); }, code, {path});
    expect_error([&] { sq::open_safetensors_file(path); }, code, fragments);
  }
};

const char* kValidHeader =
    R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
    R"("b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}})";

TEST_F(SafetensorsHostile, ValidBaselineOpens) {
  sqtest::write_bytes(path, st_file(kValidHeader, 22));
  const auto src = sq::open_safetensors_file(path);
  EXPECT_EQ(src->tensors().size(), 2u);
}

TEST_F(SafetensorsHostile, EveryTruncatedPrefixIsAFormatError) {
  const std::string full = st_file(kValidHeader, 22);
  for (size_t len = 0; len < full.size(); ++len) {
    SCOPED_TRACE("prefix length " + std::to_string(len));
    open_expect(full.substr(0, len), SQ_ERR_FORMAT, {path});
  }
}

TEST_F(SafetensorsHostile, HugeHeaderLengths) {
  for (uint64_t n : {uint64_t(1) << 60, uint64_t(1) << 63, ~uint64_t(0), uint64_t(200) << 20}) {
    SCOPED_TRACE(n);
    open_expect(le64(n) + std::string(kValidHeader) + std::string(22, '\0'), SQ_ERR_FORMAT,
                {path, std::to_string(n), "header length"});
  }
  // Below the cap but beyond the file.
  open_expect(le64(1000) + "{}", SQ_ERR_FORMAT, {path, "header length 1000 exceeds"});
}

TEST_F(SafetensorsHostile, OffsetsPastTheEnd) {
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 15), SQ_ERR_FORMAT,
              {path, "'w'", "past the end"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})", 16),
              SQ_ERR_FORMAT, {path, "'w'"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 16), SQ_ERR_FORMAT,
              {path, "'w'", "begin > end"});
}

TEST_F(SafetensorsHostile, OverlappingRanges) {
  open_expect(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
              SQ_ERR_FORMAT, {path, "'a'", "'b'", "overlap"});
  // Same range twice: two names aliasing one buffer.
  open_expect(st_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", 4),
              SQ_ERR_FORMAT, {path, "overlap"});
}

TEST_F(SafetensorsHostile, DuplicateNames) {
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
              SQ_ERR_FORMAT, {path, "duplicate", "'w'"});
  open_expect(st_file(R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", 4),
              SQ_ERR_FORMAT, {path, "duplicate key 'dtype'", "'w'"});
}

TEST_F(SafetensorsHostile, ShapeAndSizeDisagree) {
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 24), SQ_ERR_FORMAT,
              {path, "'w'", "span 20 bytes", "needs 24"});
  open_expect(st_file(R"({"w":{"dtype":"F16","shape":[4],"data_offsets":[0,16]}})", 16), SQ_ERR_FORMAT,
              {path, "'w'", "needs 8"});
  // 2^32 * 2^32 elements: the product overflows 64 bits and must be caught, not wrapped to 0.
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
              SQ_ERR_FORMAT, {path, "'w'", "too many elements"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776,0],"data_offsets":[0,0]}})", 0),
              SQ_ERR_FORMAT, {path, "'w'", "too many elements"});
}

TEST_F(SafetensorsHostile, BadJson) {
  open_expect(st_file(R"({"w":{"dtype":"F32",)", 0), SQ_ERR_FORMAT, {path, "not valid JSON"});
  open_expect(st_file("{\"w\xff\":{}}", 0), SQ_ERR_FORMAT, {path, "not valid JSON"});  // not UTF-8
  open_expect(st_file("[1,2,3]", 0), SQ_ERR_FORMAT, {path, "JSON object"});
  open_expect(st_file("{} trailing", 0), SQ_ERR_FORMAT, {path, "not valid JSON"});
  open_expect(st_file(std::string(100000, '[') , 0), SQ_ERR_FORMAT, {path});
  open_expect(st_file(R"({"w":[1,2]})", 0), SQ_ERR_FORMAT, {path, "'w'", "object"});
}

TEST_F(SafetensorsHostile, BadShapesAndOffsets) {
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,0]}})", 0), SQ_ERR_FORMAT,
              {path, "'w'", "shape[0]", "negative"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,0]}})", 0), SQ_ERR_FORMAT,
              {path, "'w'", "shape[0]", "non-negative integer"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":"4","data_offsets":[0,16]}})", 16), SQ_ERR_FORMAT,
              {path, "'w'", "shape"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 8), SQ_ERR_FORMAT,
              {path, "'w'", "data_offsets"});
  open_expect(st_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 8), SQ_ERR_FORMAT,
              {path, "'w'", "negative"});
  open_expect(st_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), SQ_ERR_FORMAT,
              {path, "'w'", "missing \"shape\""});
  open_expect(st_file(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4), SQ_ERR_FORMAT,
              {path, "'w'", "dtype"});
}

TEST_F(SafetensorsHostile, UnsupportedDtypeNamesTensorAndDtype) {
  open_expect(st_file(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8), SQ_ERR_UNSUPPORTED,
              {path, "'w'", "F64"});
  open_expect(st_file(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1), SQ_ERR_UNSUPPORTED,
              {path, "'w'", "F8_E4M3"});
}

TEST_F(SafetensorsHostile, MetadataMustMapStringsToStrings) {
  open_expect(st_file(R"({"__metadata__":{"format":1}})", 0), SQ_ERR_FORMAT, {path, "__metadata__", "'format'"});
  open_expect(st_file(R"({"__metadata__":["pt"]})", 0), SQ_ERR_FORMAT, {path, "__metadata__"});
}

TEST_F(SafetensorsHostile, NotAFile) {
  expect_error([&] { sq::open_safetensors_file(dir.path()); }, SQ_ERR_IO, {dir.path()});
  expect_error([&] { sq::open_safetensors_file(dir.file("absent.safetensors")); }, SQ_ERR_IO, {"absent.safetensors"});
}

// Random byte corruption of a valid file: any outcome is fine except a crash, an out-of-bounds read (run
// under the address sanitizer to see those) or an exception other than sq::Error.
TEST_F(SafetensorsHostile, RandomCorruptionNeverEscapesAsAnythingButSqError) {
  const std::string valid = st_file(kValidHeader, 22);
  std::mt19937 rng(12345);
  int opened = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = valid;
    const int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = char(rng() % 256);
    sqtest::write_bytes(path, bytes);
    try {
      const auto src = sq::open_safetensors_file(path);
      for (size_t i = 0; i < src->tensors().size(); ++i) {
        const sq::TensorDesc& t = src->tensors()[i];
        if (!sq::dtype_is_float(t.dtype)) continue;
        std::vector<float> out(t.numel());
        src->read_f32(i, out.data());
      }
      ++opened;
    } catch (const sq::Error& e) {
      ASSERT_TRUE(e.code() == SQ_ERR_FORMAT || e.code() == SQ_ERR_UNSUPPORTED) << e.what();
      ASSERT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(opened, 0) << "flips in the data section leave the file valid";
}

}  // namespace
