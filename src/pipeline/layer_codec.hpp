// The project's own encoding of one quantized layer (the "sq" container and the job's per-block spool).
//
// A layer P becomes a scheme (JSON, stored in the safetensors __metadata__ as "sq.scheme.P") and a few
// payloads, each stored as a U8 tensor "P.sq.<part>" holding one independent zstd frame, so any tensor
// can be read without the others:
//   codes   dense LSB-first bit stream of the [rows, cols] codes (original column order), `bits` per code;
//           Gaussian grids: [rows, cols_padded / grid_dim] codes of the rotated rows
//   scales, zeros   fp32 [n_groups, rows]      (affine grids; Gaussian grids: scales only)
//   lut     fp32 [n_groups, rows, 2^bits]      (LUT grids)
//   g_idx, perm     int32                      (when present)
//   fix_idx int64, fix_val fp32                (elements where decode() differs from the quantizer's own
//                                               fp32 result, so the round trip is bit-identical)
// Layers with full-precision outliers carry "outliers": <count> in their scheme (0 when none) and payloads
//   outlier_row_ptr int64 [rows + 1], outlier_col int32 [count], outlier_val fp32 [count]   (CSR, ADDED to
//   the decoded grid values); rotated layers carry a "rotation" object. The GPTQ writer refuses both.
// decode: affine w[n,k] = scales[g,n] * (code - zeros[g,n]); LUT w[n,k] = lut[g,n,code]; g = group of k;
// then w[n,k] += outlier value where the layer stores one.
// Gaussian (HIGGS; scheme keys grid_dim, grid_points, "rotation": {type "hadamard", size, random_signs, seed,
// cols_padded}): rotated row = scales[g,n] * grid[code] per grid_dim-vector (g = rotated column / group_size),
// then un-rotated (hadamard_unrotate_rows) and cut to cols (higgs_layer.hpp: gaussian_layer_weights).
// Bump kSqFormatVersion on any change to this layout.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "quant/quantized_layer.hpp"

namespace sq {

constexpr int kSqFormatVersion = 2;  // 2: Gaussian grids, Hadamard rotation, full-precision outliers
constexpr const char* kSqFormatName = "streamquant.sq";
constexpr const char* kSqSchemePrefix = "sq.scheme.";
constexpr const char* kSqPayloadInfix = ".sq.";

struct EncodedPayload {
  std::string part;            // "codes", "scales", ...
  std::vector<uint8_t> frame;  // one zstd frame
};

struct EncodedLayer {
  nlohmann::json scheme;
  std::vector<EncodedPayload> payloads;
};

EncodedLayer encode_layer(const QuantizedLayer& layer);

// Fetch the stored bytes of payload `part` of the layer (throws when absent).
using PayloadFetch = std::function<std::pair<const uint8_t*, size_t>(const std::string& part)>;
// `name` (the layer) is used in error messages. The result's `dequant` is filled, bit-identical to the
// encoded layer's.
QuantizedLayer decode_layer(const nlohmann::json& scheme, const PayloadFetch& fetch, const std::string& name);

// Group of input column k under the layer's grouping (g_idx when present, else k / group_size).
int64_t group_of_column(const QuantizedLayer& layer, int64_t k);
// The decode formula above, from codes, grid parameters and outliers only.
std::vector<float> decode_weights(const QuantizedLayer& layer);

}  // namespace sq
