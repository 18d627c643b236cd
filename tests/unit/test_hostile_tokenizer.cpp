// Regression test for an input fuzz/fuzz_tokenizer.cpp found: a JSON number too large for a double
// (e.g. 271e308) raised nlohmann's out_of_range, which escaped Tokenizer::from_json instead of becoming
// SQ_ERR_FORMAT naming the source.
#include <string>

#include <gtest/gtest.h>

#include "test_files.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

TEST(HostileTokenizer, NumberOutOfDoubleRangeIsAFormatError) {
  for (const char* text : {R"({"version": "1.0", "truncation": 271e308})", R"({"model": {"dropout": -1e400}})",
                           R"([1e999])"}) {
    sqtest::expect_error([&] { sq::tok::Tokenizer::from_json(text, "tokenizer 'fuzzed.json'"); }, SQ_ERR_FORMAT,
                         {"tokenizer 'fuzzed.json'", "not valid JSON"});
  }
}

}  // namespace
