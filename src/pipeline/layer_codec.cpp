#include "pipeline/layer_codec.hpp"

#include <algorithm>
#include <cstring>

#include <zstd.h>

#include "pipeline/bit_packing.hpp"
#include "quant/gaussian_grids.hpp"
#include "quant/hadamard.hpp"
#include "quant/higgs_layer.hpp"
#include "util/error.hpp"

namespace sq {
namespace {

// An integer field of a scheme. Checked first: nlohmann converts a JSON float such as 1e21 to an integer type
// with an out-of-range (undefined) cast, and schemes come from files.
int64_t int_at(const nlohmann::json& j, const char* key, const std::string& name) {
  const auto& v = j.at(key);
  if (!v.is_number_integer())
    throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': scheme field '", key, "' must be an integer; got ", v.dump());
  return v.get<int64_t>();
}


constexpr int kZstdLevel = 3;  // single-threaded zstd is deterministic: equal inputs give equal frames

std::vector<uint8_t> compress(const void* data, size_t n) {
  std::vector<uint8_t> out(ZSTD_compressBound(n));
  const size_t got = ZSTD_compress(out.data(), out.size(), data, n, kZstdLevel);
  if (ZSTD_isError(got)) throw_error(SQ_ERR_INTERNAL, "zstd compression failed: ", ZSTD_getErrorName(got));
  out.resize(got);
  return out;
}

std::vector<uint8_t> decompress(const uint8_t* frame, size_t n, size_t expected, const std::string& what) {
  const unsigned long long size = ZSTD_getFrameContentSize(frame, n);
  // A zstd block yields at most 128 KiB and takes at least 3 bytes, so a frame claiming more than that is
  // corrupt: refusing it here keeps a hostile size field from reserving memory the frame can never fill.
  const unsigned long long most = (static_cast<unsigned long long>(n) / 3 + 1) * (128u << 10);
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != expected || size > most)
    throw_error(SQ_ERR_FORMAT, "sq payload '", what, "': zstd frame does not hold the expected ", expected, " bytes");
  std::vector<uint8_t> out(expected);
  const size_t got = ZSTD_decompress(out.data(), out.size(), frame, n);
  if (ZSTD_isError(got) || got != expected)
    throw_error(SQ_ERR_FORMAT, "sq payload '", what, "': corrupt zstd frame (",
                ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short", ")");
  return out;
}

template <typename T>
void add_payload(EncodedLayer& enc, const std::string& part, const std::vector<T>& v) {
  enc.payloads.push_back({part, compress(v.data(), v.size() * sizeof(T))});
  enc.scheme["payloads"][part] = {{"raw_bytes", v.size() * sizeof(T)}};
}

template <typename T>
std::vector<T> fetch_array(const nlohmann::json& scheme, const PayloadFetch& fetch, const std::string& part,
                           size_t count, const std::string& name) {
  const auto& info = scheme.at("payloads").at(part);
  const int64_t raw_field = int_at(info, "raw_bytes", name);
  if (raw_field < 0) throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': payload '", part, "' has a negative size");
  const size_t raw = size_t(raw_field);
  if (raw != count * sizeof(T))
    throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': payload '", part, "' holds ", raw, " bytes, expected ",
                count * sizeof(T));
  auto [ptr, n] = fetch(part);
  auto bytes = decompress(ptr, n, raw, name + kSqPayloadInfix + part);
  std::vector<T> out(count);
  if (raw) std::memcpy(out.data(), bytes.data(), raw);
  return out;
}

// ---- Gaussian grids (HIGGS) ----------------------------------------------------------------------------------
// Scheme keys: "grid_dim", "grid_points" and, for rotated layers, "rotation": {"type": "hadamard", "size",
// "random_signs", "seed", "cols_padded"}. Codes count one per grid_dim-vector of the rotated row.

size_t code_count(const QuantizedLayer& l) {
  if (l.grid != GridKind::Gaussian) return size_t(l.rows * l.cols);
  return l.grid_dim > 0 ? size_t(l.rows * (gaussian_padded_cols(l) / l.grid_dim)) : 0;
}

void encode_gaussian_scheme(const QuantizedLayer& l, nlohmann::json& scheme) {
  scheme["grid_dim"] = l.grid_dim;
  scheme["grid_points"] = l.grid_points;
  if (l.rotation.size > 0)
    scheme["rotation"] = {{"type", "hadamard"},
                          {"size", l.rotation.size},
                          {"random_signs", l.rotation.random_signs},
                          {"seed", l.rotation.seed},
                          {"cols_padded", l.rotation.cols_padded}};
}

// Fills grid_dim, grid_points and rotation, checking what later arithmetic relies on.
void decode_gaussian_scheme(const nlohmann::json& scheme, const std::string& name, QuantizedLayer& l) {
  l.grid_dim = int(int_at(scheme, "grid_dim", name));
  l.grid_points = int(int_at(scheme, "grid_points", name));
  bool shipped = false;
  for (const auto& g : gaussian_grids()) shipped |= g.p == l.grid_dim && g.n == l.grid_points;
  if (!shipped || l.bits < 1 || l.bits > 8 || (1 << l.bits) != l.grid_points)
    throw_error(SQ_ERR_UNSUPPORTED, "sq layer '", name, "': Gaussian grid (p=", l.grid_dim, ", n=", l.grid_points,
                ") with ", l.bits, "-bit codes is not one this library ships");
  l.rotation = {};
  if (scheme.contains("rotation")) {
    const auto& r = scheme.at("rotation");
    if (r.at("type").get<std::string>() != "hadamard")
      throw_error(SQ_ERR_UNSUPPORTED, "sq layer '", name, "': rotation type '", r.at("type").get<std::string>(),
                  "' is not one this library decodes (expected \"hadamard\")");
    l.rotation.size = int_at(r, "size", name);
    l.rotation.random_signs = r.at("random_signs").get<bool>();
    l.rotation.seed = uint64_t(int_at(r, "seed", name));
    l.rotation.cols_padded = int_at(r, "cols_padded", name);
    if (!is_hadamard_size(l.rotation.size) || l.rotation.size < 2 || l.rotation.cols_padded < l.cols ||
        l.rotation.cols_padded % l.rotation.size != 0 || l.rotation.cols_padded - l.cols >= l.rotation.size)
      throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': rotation of size ", l.rotation.size, " over ",
                  l.rotation.cols_padded, " columns does not fit ", l.cols, " input columns");
  } else {
    l.rotation.cols_padded = l.cols;
  }
  const int64_t padded = gaussian_padded_cols(l);
  if (l.group_size <= 0 || l.group_size % l.grid_dim != 0 || padded % l.group_size != 0 ||
      l.n_groups != padded / l.group_size)
    throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': ", l.n_groups, " groups of ", l.group_size,
                " do not cover the ", padded, " rotated columns in ", l.grid_dim, "-vectors");
}
// --- full-precision outliers (SparseOutliers, CSR) ---
void encode_outliers(const QuantizedLayer& l, EncodedLayer& enc) {
  const SparseOutliers& o = l.outliers;
  enc.scheme["outliers"] = int64_t(o.col.size());
  if (o.empty()) return;
  if (o.row_ptr.size() != size_t(l.rows + 1) || o.val.size() != o.col.size())
    throw_error(SQ_ERR_INTERNAL, "sq encode: outliers have ", o.row_ptr.size(), " row pointers for ", l.rows, " rows and ",
                o.val.size(), " values for ", o.col.size(), " columns");
  add_payload(enc, "outlier_row_ptr", o.row_ptr);
  add_payload(enc, "outlier_col", o.col);
  add_payload(enc, "outlier_val", o.val);
}

SparseOutliers decode_outliers(const nlohmann::json& scheme, const PayloadFetch& fetch, const QuantizedLayer& l,
                               const std::string& name) {
  SparseOutliers o;
  const int64_t count = scheme.contains("outliers") ? int_at(scheme, "outliers", name) : 0;
  if (count < 0 || count > l.rows * l.cols)
    throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': outlier count ", count, " outside [0, ", l.rows * l.cols, "]");
  if (count == 0) return o;
  o.row_ptr = fetch_array<int64_t>(scheme, fetch, "outlier_row_ptr", size_t(l.rows + 1), name);
  o.col = fetch_array<int32_t>(scheme, fetch, "outlier_col", size_t(count), name);
  o.val = fetch_array<float>(scheme, fetch, "outlier_val", size_t(count), name);
  if (o.row_ptr.front() != 0 || o.row_ptr.back() != count)
    throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': outlier row pointers must run from 0 to ", count);
  for (int64_t r = 0; r < l.rows; ++r) {
    if (o.row_ptr[size_t(r + 1)] < o.row_ptr[size_t(r)])
      throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': outlier row pointers decrease at row ", r);
  }
  for (int32_t c : o.col)
    if (c < 0 || c >= l.cols)
      throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': outlier column ", c, " outside [0, ", l.cols, ")");
  return o;
}
// --- end outliers ---

}  // namespace

int64_t group_of_column(const QuantizedLayer& layer, int64_t k) {
  if (!layer.g_idx.empty()) return layer.g_idx[size_t(k)];
  return layer.group_size > 0 ? k / layer.group_size : 0;
}

std::vector<int64_t> column_lut_offsets(const std::vector<uint8_t>& column_bits) {
  std::vector<int64_t> offsets(column_bits.size());
  int64_t next = 0;
  for (size_t k = 0; k < column_bits.size(); ++k) {
    offsets[k] = next;
    next += int64_t(1) << column_bits[k];
  }
  return offsets;
}

namespace {

void decode_column_lut(const QuantizedLayer& l, std::vector<float>& w) {
  if (l.column_bits.size() != size_t(l.cols))
    throw_error(SQ_ERR_FORMAT, "quantized layer: column-lut grid has ", l.column_bits.size(), " column widths for ", l.cols,
                " columns");
  const std::vector<int64_t> offsets = l.column_lut_offset.empty() ? column_lut_offsets(l.column_bits) : l.column_lut_offset;
  for (int64_t k = 0; k < l.cols; ++k) {
    const int64_t levels = int64_t(1) << l.column_bits[size_t(k)];
    if (offsets[size_t(k)] < 0 || size_t(offsets[size_t(k)] + levels) > l.column_lut.size())
      throw_error(SQ_ERR_FORMAT, "quantized layer: column ", k, "'s level table lies outside the ", l.column_lut.size(),
                  " stored levels");
    const float* table = l.column_lut.data() + offsets[size_t(k)];
    for (int64_t n = 0; n < l.rows; ++n) {
      const uint8_t code = l.codes[size_t(n * l.cols + k)];
      if (code >= levels)
        throw_error(SQ_ERR_FORMAT, "quantized layer: code ", int(code), " at (", n, ", ", k, ") exceeds column ", k,
                    "'s ", levels, " levels");
      w[size_t(n * l.cols + k)] = table[code];
    }
  }
}

void add_outliers(const QuantizedLayer& l, std::vector<float>& w) {
  const SparseOutliers& o = l.outliers;
  if (o.empty()) return;
  if (o.row_ptr.size() != size_t(l.rows + 1) || o.row_ptr.front() != 0 || o.row_ptr.back() != int64_t(o.col.size()) ||
      o.val.size() != o.col.size())
    throw_error(SQ_ERR_FORMAT, "quantized layer: outlier CSR is inconsistent (", o.row_ptr.size(), " row pointers for ",
                l.rows, " rows, ", o.col.size(), " columns, ", o.val.size(), " values)");
  for (int64_t r = 0; r < l.rows; ++r) {
    if (o.row_ptr[size_t(r + 1)] < o.row_ptr[size_t(r)])
      throw_error(SQ_ERR_FORMAT, "quantized layer: outlier row pointers decrease at row ", r);
    for (int64_t i = o.row_ptr[size_t(r)]; i < o.row_ptr[size_t(r + 1)]; ++i) {
      const int32_t c = o.col[size_t(i)];
      if (c < 0 || c >= l.cols)
        throw_error(SQ_ERR_FORMAT, "quantized layer: outlier column ", c, " in row ", r, " is outside [0, ", l.cols, ")");
      w[size_t(r * l.cols + c)] += o.val[size_t(i)];
    }
  }
}

}  // namespace

std::vector<float> decode_weights(const QuantizedLayer& l) {
  if (l.grid == GridKind::Gaussian) {
    std::vector<float> w = gaussian_layer_weights(l);
    add_outliers(l, w);
    return w;
  }
  std::vector<float> w(size_t(l.rows * l.cols));
  if (l.grid == GridKind::ColumnLut) {
    decode_column_lut(l, w);
    add_outliers(l, w);
    return w;
  }
  const int64_t levels = int64_t(1) << l.bits;
  for (int64_t k = 0; k < l.cols; ++k) {
    const int64_t g = group_of_column(l, k);
    if (g < 0 || g >= l.n_groups)
      throw_error(SQ_ERR_FORMAT, "quantized layer: column ", k, " is in group ", g, ", outside [0, ", l.n_groups, ")");
    for (int64_t n = 0; n < l.rows; ++n) {
      const uint8_t code = l.codes[size_t(n * l.cols + k)];
      float v;
      if (l.grid == GridKind::Lut) {
        v = l.lut[size_t((g * l.rows + n) * levels + code)];
      } else {
        const size_t p = size_t(g * l.rows + n);
        v = l.scales[p] * (float(code) - l.zeros[p]);
      }
      w[size_t(n * l.cols + k)] = v;
    }
  }
  add_outliers(l, w);
  return w;
}

EncodedLayer encode_layer(const QuantizedLayer& l) {
  const size_t numel = size_t(l.rows * l.cols);
  const size_t n_codes = code_count(l);
  if (l.codes.size() != n_codes)
    throw_error(SQ_ERR_INTERNAL, "sq encode: layer has ", l.codes.size(), " codes for ", l.rows, "x", l.cols,
                " (expected ", n_codes, ")");
  const bool column_lut = l.grid == GridKind::ColumnLut;
  // Version 1 readers must refuse layers that use what version 2 added.
  const bool version2 = column_lut || !l.outliers.empty() || l.grid == GridKind::Gaussian || l.rotation.size > 0;
  EncodedLayer enc;
  enc.scheme = {{"format", kSqFormatName}, {"version", version2 ? 2 : 1},
                {"rows", l.rows},           {"cols", l.cols},
                {"bits", l.bits},           {"group_size", l.group_size},
                {"n_groups", l.n_groups},   {"sym", l.sym},
                {"grid", grid_kind_name(l.grid)},
                {"transform", l.rotation.size > 0 ? "hadamard" : l.perm.empty() ? "none" : "act-order"},
                {"method", l.method},       {"objective", l.objective},
                {"damp_used", l.damp_used}, {"payloads", nlohmann::json::object()}};
  if (column_lut) {
    if (l.column_bits.size() != size_t(l.cols))
      throw_error(SQ_ERR_INTERNAL, "sq encode: column-lut layer has ", l.column_bits.size(), " widths for ", l.cols, " columns");
    add_payload(enc, "codes", pack_bitstream_columns(l.codes.data(), l.rows, l.cols, l.column_bits.data()));
    add_payload(enc, "column_bits", l.column_bits);
    add_payload(enc, "column_lut", l.column_lut);
  } else {
    add_payload(enc, "codes", pack_bitstream(l.codes.data(), n_codes, l.bits));
  }
  if (l.grid == GridKind::Gaussian) {
    encode_gaussian_scheme(l, enc.scheme);
    add_payload(enc, "scales", l.scales);
  } else if (l.grid == GridKind::Lut) {
    add_payload(enc, "lut", l.lut);
  } else if (!column_lut) {
    add_payload(enc, "scales", l.scales);
    add_payload(enc, "zeros", l.zeros);
  }
  if (!l.g_idx.empty()) add_payload(enc, "g_idx", l.g_idx);
  if (!l.perm.empty()) add_payload(enc, "perm", l.perm);
  encode_outliers(l, enc);
  if (!l.dequant.empty()) {
    const auto decoded = decode_weights(l);
    std::vector<int64_t> fix_idx;
    std::vector<float> fix_val;
    for (size_t i = 0; i < numel; ++i)
      if (std::memcmp(&decoded[i], &l.dequant[i], sizeof(float)) != 0) {
        fix_idx.push_back(int64_t(i));
        fix_val.push_back(l.dequant[i]);
      }
    if (!fix_idx.empty()) {
      add_payload(enc, "fix_idx", fix_idx);
      add_payload(enc, "fix_val", fix_val);
    }
  }
  if (version2) {
    size_t stored = 0;
    for (const auto& [part, info] : enc.scheme.at("payloads").items()) stored += info.at("raw_bytes").get<size_t>();
    enc.scheme["effective_bits"] = double(stored) * 8.0 / double(numel);
  }
  return enc;
}

QuantizedLayer decode_layer(const nlohmann::json& scheme, const PayloadFetch& fetch, const std::string& name) {
  try {
    const int64_t version = int_at(scheme, "version", name);
    if (version > kSqFormatVersion)
      throw_error(SQ_ERR_UNSUPPORTED, "sq layer '", name, "': format version ", version,
                  " is newer than this library's ", kSqFormatVersion);
    QuantizedLayer l;
    l.rows = int_at(scheme, "rows", name);
    l.cols = int_at(scheme, "cols", name);
    const int64_t bits = int_at(scheme, "bits", name);
    l.bits = bits >= 1 && bits <= 8 ? int(bits) : 0;  // 0 is refused below
    l.group_size = int_at(scheme, "group_size", name);
    l.n_groups = int_at(scheme, "n_groups", name);
    l.sym = scheme.at("sym").get<bool>();
    const std::string grid = scheme.at("grid").get<std::string>();
    if (grid == grid_kind_name(GridKind::Lut)) l.grid = GridKind::Lut;
    else if (grid == grid_kind_name(GridKind::ColumnLut)) l.grid = GridKind::ColumnLut;
    else if (grid == grid_kind_name(GridKind::Affine)) l.grid = GridKind::Affine;
    else if (grid == grid_kind_name(GridKind::Gaussian)) l.grid = GridKind::Gaussian;
    else throw_error(SQ_ERR_UNSUPPORTED, "sq layer '", name, "': grid '", grid, "' is not one this library decodes");
    l.method = scheme.value("method", "");
    l.objective = scheme.value("objective", 0.0);
    l.damp_used = scheme.value("damp_used", 0.0);
    if (l.grid == GridKind::Gaussian) decode_gaussian_scheme(scheme, name, l);
    if (l.rows <= 0 || l.cols <= 0 || l.bits < 1 || l.bits > 8 || l.n_groups <= 0 ||
        l.n_groups > (l.grid == GridKind::Gaussian ? l.rotation.cols_padded : l.cols))
      throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': invalid shape or bits in scheme ", scheme.dump());
    // 2^48 elements is far beyond any layer; the bound keeps every size product below from overflowing.
    if (l.rows > (int64_t(1) << 48) / l.cols)
      throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': ", l.rows, " x ", l.cols, " elements is not a layer size");
    const size_t numel = size_t(l.rows * l.cols);
    const size_t params = size_t(l.n_groups * l.rows);
    if (l.grid == GridKind::ColumnLut) {
      l.column_bits = fetch_array<uint8_t>(scheme, fetch, "column_bits", size_t(l.cols), name);
      int max_bits = 0;
      for (size_t k = 0; k < l.column_bits.size(); ++k) {
        if (l.column_bits[k] < 1 || l.column_bits[k] > 8)
          throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': column ", k, " has ", int(l.column_bits[k]), " bits; need 1..8");
        max_bits = std::max(max_bits, int(l.column_bits[k]));
      }
      if (max_bits != l.bits)
        throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': scheme bits ", l.bits, " differ from the widest column's ", max_bits);
      l.column_lut_offset = column_lut_offsets(l.column_bits);
      const size_t levels = size_t(l.column_lut_offset.back() + (int64_t(1) << l.column_bits.back()));
      const auto packed = fetch_array<uint8_t>(
          scheme, fetch, "codes", bitstream_columns_bytes(l.rows, l.cols, l.column_bits.data()), name);
      l.codes = unpack_bitstream_columns(packed.data(), packed.size(), l.rows, l.cols, l.column_bits.data());
      l.column_lut = fetch_array<float>(scheme, fetch, "column_lut", levels, name);
    } else {
      const size_t n_codes = code_count(l);
      const auto packed = fetch_array<uint8_t>(scheme, fetch, "codes", (n_codes * size_t(l.bits) + 7) / 8, name);
      l.codes = unpack_bitstream(packed.data(), packed.size(), n_codes, l.bits);
    }
    if (l.grid == GridKind::Gaussian) {
      l.scales = fetch_array<float>(scheme, fetch, "scales", params, name);
    } else if (l.grid == GridKind::Lut) {
      l.lut = fetch_array<float>(scheme, fetch, "lut", params << l.bits, name);
    } else if (l.grid == GridKind::Affine) {
      l.scales = fetch_array<float>(scheme, fetch, "scales", params, name);
      l.zeros = fetch_array<float>(scheme, fetch, "zeros", params, name);
    }
    const auto& payloads = scheme.at("payloads");
    if (payloads.contains("g_idx")) l.g_idx = fetch_array<int32_t>(scheme, fetch, "g_idx", size_t(l.cols), name);
    if (payloads.contains("perm")) l.perm = fetch_array<int32_t>(scheme, fetch, "perm", size_t(l.cols), name);
    l.outliers = decode_outliers(scheme, fetch, l, name);
    l.dequant = decode_weights(l);
    if (payloads.contains("fix_idx")) {
      const size_t nfix = size_t(std::max<int64_t>(0, int_at(payloads.at("fix_idx"), "raw_bytes", name))) / sizeof(int64_t);
      const auto idx = fetch_array<int64_t>(scheme, fetch, "fix_idx", nfix, name);
      const auto val = fetch_array<float>(scheme, fetch, "fix_val", nfix, name);
      for (size_t i = 0; i < nfix; ++i) {
        if (idx[i] < 0 || size_t(idx[i]) >= numel)
          throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': fix index ", idx[i], " outside ", numel, " elements");
        l.dequant[size_t(idx[i])] = val[i];
      }
    }
    return l;
  } catch (const nlohmann::json::exception& e) {
    throw_error(SQ_ERR_FORMAT, "sq layer '", name, "': malformed scheme: ", e.what());
  }
}

}  // namespace sq
