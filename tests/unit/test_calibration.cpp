#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "pipeline/calibration.hpp"
#include "util/error.hpp"

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("sq_calib_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A minimal .npy v1 file holding `values` as the given little-endian integer type.
template <typename T>
std::string npy(const std::string& descr, const std::string& shape, const std::vector<T>& values) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  const uint16_t len = uint16_t(header.size());
  out.append(reinterpret_cast<const char*>(&len), 2);
  out += header;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return out;
}

std::vector<int32_t> iota_stream(int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

}  // namespace

TEST(Calibration, SamplesAreContiguousWindowsAtDocumentedOffsets) {
  const auto stream = iota_stream(1000);
  const auto set = sq::sample_calibration(stream, 5, 16, 42, 1000, "test");
  ASSERT_EQ(set.tokens.size(), 5u * 16u);
  std::mt19937_64 rng(42);
  for (int64_t s = 0; s < 5; ++s) {
    const int32_t offset = int32_t(rng() % (1000 - 16 + 1));
    for (int64_t j = 0; j < 16; ++j) EXPECT_EQ(set.sample(s)[j], offset + j);
  }
}

TEST(Calibration, SameSeedSameSamplesOtherSeedDiffers) {
  const auto stream = iota_stream(5000);
  const auto a = sq::sample_calibration(stream, 8, 32, 7, 0, "test");
  const auto b = sq::sample_calibration(stream, 8, 32, 7, 0, "test");
  const auto c = sq::sample_calibration(stream, 8, 32, 8, 0, "test");
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
}

TEST(Calibration, TooShortStreamNamesTheNumbers) {
  const auto stream = iota_stream(10);
  try {
    sq::sample_calibration(stream, 2, 64, 0, 0, "file 'tiny.bin'");
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_INVALID_ARGUMENT);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tiny.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("10"), std::string::npos) << msg;
    EXPECT_NE(msg.find("64"), std::string::npos) << msg;
  }
}

TEST(Calibration, IdOutsideVocabularyIsRejected) {
  auto stream = iota_stream(100);
  stream[50] = 300;
  try {
    sq::sample_calibration(stream, 1, 8, 0, 256, "file 'x.npy'");
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  const int32_t bad[4] = {1, 2, 3, 999};
  EXPECT_THROW(sq::calibration_from_samples(bad, 2, 2, 256, "tokens"), sq::Error);
}

TEST(Calibration, ReadsNpyInt32Int64TwoDimensionalAndRaw) {
  const std::string p32 = temp_path("a.npy"), p64 = temp_path("b.npy"), praw = temp_path("c.bin");
  write_bytes(p32, npy<int32_t>("<i4", "(5,)", {5, 4, 3, 2, 1}));
  write_bytes(p64, npy<int64_t>("<i8", "(2, 3)", {10, 11, 12, 20, 21, 22}));
  const std::vector<uint32_t> raw = {7, 8, 9};
  write_bytes(praw, std::string(reinterpret_cast<const char*>(raw.data()), raw.size() * 4));
  EXPECT_EQ(sq::read_token_file(p32), (std::vector<int32_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(sq::read_token_file(p64), (std::vector<int32_t>{10, 11, 12, 20, 21, 22}));
  EXPECT_EQ(sq::read_token_file(praw), (std::vector<int32_t>{7, 8, 9}));
  write_bytes(praw, "12345");  // not a multiple of 4
  EXPECT_THROW(sq::read_token_file(praw), sq::Error);
  EXPECT_THROW(sq::read_token_file(temp_path("missing.bin")), sq::Error);
  std::remove(p32.c_str());
  std::remove(p64.c_str());
  std::remove(praw.c_str());
}
