#include "pipeline/calibration.hpp"

#include <cstring>
#include <fstream>
#include <random>
#include <regex>

#include "util/error.hpp"

namespace sq {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw_error(SQ_ERR_IO, "calibration file '", path, "': cannot open");
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw_error(SQ_ERR_IO, "calibration file '", path, "': read failed");
  return data;
}

template <typename T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the hosts we support are little-endian, as the formats are
  return v;
}

std::vector<int32_t> parse_npy(const std::string& data, const std::string& path) {
  if (data.size() < 10) throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': truncated .npy header");
  const int major = static_cast<unsigned char>(data[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = load_le<uint16_t>(data.data() + 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12) throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': truncated .npy header");
    header_len = load_le<uint32_t>(data.data() + 8);
    header_start = 12;
  } else {
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': unsupported .npy version ", major);
  }
  if (header_start + header_len > data.size())
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': .npy header length ", header_len, " exceeds file size ",
                data.size());
  const std::string header = data.substr(header_start, header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")))
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': .npy header has no 'descr'");
  const std::string descr = m[1];
  if (std::regex_search(header, std::regex("'fortran_order'\\s*:\\s*True")))
    throw_error(SQ_ERR_UNSUPPORTED, "calibration file '", path, "': Fortran-order .npy arrays are not supported");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': .npy header has no 'shape'");
  uint64_t numel = 1;
  int ndim = 0;
  const std::string dims = m[1];
  const std::regex number("[0-9]+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    numel *= std::stoull(it->str());
    ++ndim;
  }
  if (ndim < 1 || ndim > 2)
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': expected a 1-D or 2-D token array, got ", ndim,
                " dimensions");
  size_t elem = 0;
  if (descr == "<i4" || descr == "<u4") elem = 4;
  else if (descr == "<i8" || descr == "<u8") elem = 8;
  else if (descr == "<u2" || descr == "<i2") elem = 2;
  else
    throw_error(SQ_ERR_UNSUPPORTED, "calibration file '", path, "': token dtype '", descr,
                "' is not supported (expected <i4, <i8, <u4, <u8, <u2 or <i2)");
  const size_t body = header_start + header_len;
  if (data.size() - body < numel * elem)
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': .npy data holds ", (data.size() - body) / elem,
                " elements, shape says ", numel);
  std::vector<int32_t> out(numel);
  const char* p = data.data() + body;
  for (uint64_t i = 0; i < numel; ++i) {
    int64_t v = 0;
    if (descr == "<i4") v = load_le<int32_t>(p + i * 4);
    else if (descr == "<u4") v = load_le<uint32_t>(p + i * 4);
    else if (descr == "<i8") v = load_le<int64_t>(p + i * 8);
    else if (descr == "<u8") v = int64_t(std::min<uint64_t>(load_le<uint64_t>(p + i * 8), uint64_t(INT64_MAX)));
    else if (descr == "<u2") v = load_le<uint16_t>(p + i * 2);
    else v = load_le<int16_t>(p + i * 2);
    if (v < 0 || v > INT32_MAX)
      throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': token ", i, " has id ", v,
                  ", outside [0, 2^31)");
    out[i] = int32_t(v);
  }
  return out;
}

void check_ids(const int32_t* ids, size_t n, int64_t vocab_size, const std::string& source) {
  if (vocab_size <= 0) return;
  for (size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      throw_error(SQ_ERR_INVALID_ARGUMENT, "calibration ", source, ": token ", i, " has id ", ids[i],
                  ", outside the model's vocabulary [0, ", vocab_size, ")");
}

}  // namespace

std::vector<int32_t> read_token_file(const std::string& path) {
  const std::string data = read_all(path);
  if (data.size() >= 6 && std::memcmp(data.data(), "\x93NUMPY", 6) == 0) return parse_npy(data, path);
  if (data.size() % 4 != 0)
    throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': not a .npy file, and its size ", data.size(),
                " is not a multiple of 4 as raw little-endian uint32 token ids require");
  std::vector<int32_t> out(data.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t v = load_le<uint32_t>(data.data() + i * 4);
    if (v > uint32_t(INT32_MAX))
      throw_error(SQ_ERR_FORMAT, "calibration file '", path, "': token ", i, " has id ", v, ", outside [0, 2^31)");
    out[i] = int32_t(v);
  }
  return out;
}

CalibrationSet sample_calibration(const std::vector<int32_t>& stream, int64_t n_samples, int64_t seq_len,
                                  uint64_t seed, int64_t vocab_size, const std::string& source) {
  if (n_samples <= 0 || seq_len <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "calibration ", source, ": nsamples (", n_samples, ") and seqlen (",
                seq_len, ") must be positive");
  const int64_t total = int64_t(stream.size());
  if (total < seq_len)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "calibration ", source, " holds ", total, " tokens; seqlen ", seq_len,
                " needs at least ", seq_len, " (lower --seqlen or give more calibration text)");
  check_ids(stream.data(), stream.size(), vocab_size, source);
  CalibrationSet set;
  set.n_samples = n_samples;
  set.seq_len = seq_len;
  set.tokens.resize(size_t(n_samples * seq_len));
  std::mt19937_64 rng(seed);
  const uint64_t n_offsets = uint64_t(total - seq_len + 1);
  for (int64_t s = 0; s < n_samples; ++s) {
    const uint64_t offset = rng() % n_offsets;
    std::memcpy(set.tokens.data() + s * seq_len, stream.data() + offset, size_t(seq_len) * sizeof(int32_t));
  }
  return set;
}

CalibrationSet calibration_from_samples(const int32_t* tokens, int64_t n_samples, int64_t seq_len,
                                        int64_t vocab_size, const std::string& source) {
  if (n_samples <= 0 || seq_len <= 0)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "calibration ", source, ": n_seqs (", n_samples, ") and seq_len (",
                seq_len, ") must be positive");
  CalibrationSet set;
  set.n_samples = n_samples;
  set.seq_len = seq_len;
  set.tokens.assign(tokens, tokens + n_samples * seq_len);
  check_ids(set.tokens.data(), set.tokens.size(), vocab_size, source);
  return set;
}

}  // namespace sq
