// Calibration data: n samples of seq_len token ids cut from a longer token stream.
//
// Sampling (reproducible by construction): the input is flattened into one stream of T ids (a 2-D .npy
// is read row after row). A std::mt19937_64 seeded with `seed` draws one value v per sample, in sample
// order; sample s starts at offset v % (T - seq_len + 1) and holds the next seq_len ids. Samples may
// overlap. The same stream, n, seq_len and seed always give the same samples on every platform.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sq {

struct CalibrationSet {
  int64_t n_samples = 0;
  int64_t seq_len = 0;
  std::vector<int32_t> tokens;  // [n_samples, seq_len], row-major
  const int32_t* sample(int64_t s) const { return tokens.data() + s * seq_len; }
};

// Read a token file: .npy (int32/int64/uint32/uint16, 1-D or 2-D, C order), otherwise raw little-endian
// uint32. `path` is named in every error.
std::vector<int32_t> read_token_file(const std::string& path);

// Cut n samples of seq_len ids from `stream` as described above. `source` names the origin in errors
// (too short a stream, ids >= vocab_size; vocab_size <= 0 skips the id check).
CalibrationSet sample_calibration(const std::vector<int32_t>& stream, int64_t n_samples, int64_t seq_len,
                                  uint64_t seed, int64_t vocab_size, const std::string& source);

// Use already-cut samples as given (host-provided [n, seq_len] ids); ids are checked against vocab_size.
CalibrationSet calibration_from_samples(const int32_t* tokens, int64_t n_samples, int64_t seq_len,
                                        int64_t vocab_size, const std::string& source);

}  // namespace sq
