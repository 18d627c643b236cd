// GPTQ and LUT checkpoints (FORMATS.md): both pack codes into qweight with the GPTQ bit layout.
#include <cmath>
#include <cstring>

#include "io/safetensors_writer.hpp"
#include "quant/pack.hpp"
#include "pipeline/spool.hpp"
#include "pipeline/writer.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {
namespace {

template <typename T>
PackedTensor make_tensor(std::string name, DType dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
  PackedTensor t{std::move(name), dtype, std::move(shape), {}};
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

std::vector<uint16_t> to_f16(const std::vector<float>& v, const std::string& what) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]) || std::fabs(v[i]) > 65504.0f)
      throw_error(SQ_ERR_NUMERIC, "tensor '", what, "': value ", v[i], " does not fit fp16");
    out[i] = float_to_half(v[i]);
  }
  return out;
}

bool needs_v2(const QuantizedLayer& l) {
  for (float z : l.zeros)
    if (z < 1.0f) return true;  // v1 stores z - 1: a zero point of 0 cannot be represented
  return false;
}

struct LayerShapes {
  int64_t rows, cols, bits, n_groups;
  std::string unsupported;  // why the GPTQ format cannot hold this layer ("" = it can)
  std::string lut_unsupported;  // why the LUT format cannot ("" = it can)
};

// A LUT checkpoint holds per-row level tables (or affine grids expressed as them), unrotated.
std::string lut_unsupported(const std::string& grid, bool rotated) {
  if (grid != "affine" && grid != "lut") return "uses a '" + grid + "' grid";
  if (rotated) return "is stored in a Hadamard-rotated basis";
  return "";
}

// A GPTQ checkpoint holds one affine grid per row and group, nothing else: no lookup tables, no rotation,
// no full-precision outliers. Keys as layer_codec writes them into a layer's scheme.
std::string gptq_unsupported(const std::string& grid, bool rotated, bool has_outliers) {
  if (grid != "affine") return "uses a '" + grid + "' grid";
  if (rotated) return "is stored in a Hadamard-rotated basis";
  if (has_outliers) return "keeps full-precision outliers";
  return "";
}

std::string gptq_unsupported(const QuantizedLayer& l) {
  return gptq_unsupported(grid_kind_name(l.grid), l.rotation.size > 0, !l.outliers.empty());
}

LayerShapes shapes_of(const nlohmann::json& s) {
  const bool rotated = s.contains("rotation");
  const bool outliers = s.value("outliers", int64_t(0)) > 0;
  return {s.at("rows").get<int64_t>(), s.at("cols").get<int64_t>(), s.at("bits").get<int64_t>(),
          s.at("n_groups").get<int64_t>(), gptq_unsupported(s.at("grid").get<std::string>(), rotated, outliers),
          lut_unsupported(s.at("grid").get<std::string>(), rotated)};
}

nlohmann::json base_quant_config(const JobOptions& o) {
  return {{"bits", o.bits},         {"group_size", o.group_size}, {"desc_act", o.act_order},
          {"sym", o.sym},           {"damp_percent", o.damp},     {"true_sequential", true},
          {"static_groups", o.static_groups}, {"quantizer", "streamquant"}, {"method", o.method}};
}

}  // namespace

std::vector<PackedTensor> pack_gptq_layer(const std::string& prefix, const QuantizedLayer& l, bool v1) {
  const std::string why = gptq_unsupported(l);
  if (!why.empty())
    throw_error(SQ_ERR_UNSUPPORTED, "layer '", prefix, "' ", why, ", which the GPTQ format cannot hold: use format 'sq'",
                l.grid == GridKind::Lut ? " or 'lut'" : "");
  for (float zero : l.zeros) {
    const long stored = std::lround(zero) - (v1 ? 1 : 0);  // v1 checkpoints store z - 1
    if (stored < 0 || stored >= (1L << l.bits))
      throw_error(SQ_ERR_NUMERIC, "layer '", prefix, "': zero point ", zero, " outside the ", l.bits, "-bit range");
  }
  std::vector<int32_t> g_idx = l.g_idx;
  if (g_idx.empty())
    for (int64_t k = 0; k < l.cols; ++k) g_idx.push_back(int32_t(l.group_size > 0 ? k / l.group_size : 0));
  std::vector<PackedTensor> out;
  out.push_back(make_tensor(prefix + ".qweight", SQ_DTYPE_I32, {l.cols * l.bits / 32, l.rows},
                            gptq::pack_qweight(l.codes.data(), l.rows, l.cols, l.bits)));
  out.push_back(make_tensor(prefix + ".qzeros", SQ_DTYPE_I32, {l.n_groups, l.rows * l.bits / 32},
                            gptq::pack_qzeros(l.zeros.data(), l.n_groups, l.rows, l.bits,
                                              v1 ? gptq::CheckpointFormat::V1 : gptq::CheckpointFormat::V2)));
  out.push_back(make_tensor(prefix + ".scales", SQ_DTYPE_F16, {l.n_groups, l.rows}, to_f16(l.scales, prefix + ".scales")));
  out.push_back(make_tensor(prefix + ".g_idx", SQ_DTYPE_I32, {l.cols}, g_idx));
  return out;
}

std::vector<PackedTensor> pack_lut_layer(const std::string& prefix, const QuantizedLayer& l) {
  const std::string why = lut_unsupported(grid_kind_name(l.grid), l.rotation.size > 0);
  if (!why.empty())
    throw_error(SQ_ERR_UNSUPPORTED, "layer '", prefix, "' ", why, ", which the LUT format cannot hold: use format 'sq'");
  if (l.n_groups != 1)
    throw_error(SQ_ERR_UNSUPPORTED, "layer '", prefix, "' has ", l.n_groups,
                " groups; the LUT format holds one table per row: use group_size -1 or format 'sq'");
  const int64_t levels = int64_t(1) << l.bits;
  std::vector<float> lut = l.lut;
  if (l.grid == GridKind::Affine) {
    lut.resize(size_t(l.rows * levels));
    for (int64_t n = 0; n < l.rows; ++n)
      for (int64_t c = 0; c < levels; ++c)
        lut[size_t(n * levels + c)] = l.scales[size_t(n)] * (float(c) - l.zeros[size_t(n)]);
  }
  std::vector<PackedTensor> out;
  out.push_back(make_tensor(prefix + ".qweight", SQ_DTYPE_I32, {l.cols * l.bits / 32, l.rows},
                            gptq::pack_qweight(l.codes.data(), l.rows, l.cols, l.bits)));
  out.push_back(make_tensor(prefix + ".lookup_table", SQ_DTYPE_F16, {l.rows, levels}, to_f16(lut, prefix + ".lookup_table")));
  return out;
}

OutputStats write_gptq(const std::string& out_dir, const WriteRequest& req) {
  OutputStats stats;
  // Pass 1: shapes, and whether every zero point fits the v1 convention.
  bool v2 = false;
  std::vector<std::pair<std::string, LayerShapes>> layers;
  for (const auto& f : req.spool_files) {
    for (const auto& [prefix, scheme] : list_sq_layers(f)) layers.emplace_back(prefix, shapes_of(scheme));
    for_each_sq_layer(f, [&](const std::string&, const QuantizedLayer& l) { v2 |= needs_v2(l); });
  }
  std::vector<std::string> prefixes;
  for (const auto& [p, s] : layers) prefixes.push_back(p);
  const auto pass = pass_through_tensors(req, prefixes);

  AtomicDir dir(out_dir);
  {
    SafetensorsWriter w(dir.tmp_path() + "/model.safetensors");
    w.set_metadata("format", "pt");
    declare_pass_through(w, req, pass);
    for (const auto& [p, s] : layers) {
      if (!s.unsupported.empty())
        throw_error(SQ_ERR_UNSUPPORTED, "layer '", p, "' ", s.unsupported,
                    ", which the GPTQ format cannot hold: use format 'sq'");
      w.declare(p + ".qweight", SQ_DTYPE_I32, {s.cols * s.bits / 32, s.rows});
      w.declare(p + ".qzeros", SQ_DTYPE_I32, {s.n_groups, s.rows * s.bits / 32});
      w.declare(p + ".scales", SQ_DTYPE_F16, {s.n_groups, s.rows});
      w.declare(p + ".g_idx", SQ_DTYPE_I32, {s.cols});
    }
    write_pass_through(w, req, pass);
    for (const auto& f : req.spool_files)
      for_each_sq_layer(f, [&](const std::string& prefix, const QuantizedLayer& l) {
        stats.quantized_weights += l.rows * l.cols;
        for (const auto& t : pack_gptq_layer(prefix, l, !v2)) {
          w.write(t.name, t.bytes.data(), t.bytes.size());
          stats.quantized_bytes += int64_t(t.bytes.size());
        }
      });
    w.finish();
  }
  nlohmann::json qc = base_quant_config(req.options);
  qc["quant_method"] = "gptq";
  qc["checkpoint_format"] = v2 ? "gptq_v2" : "gptq";
  qc["effective_bits_per_weight"] = stats.bits_per_weight();
  add_bit_plan(qc, req.options, true);
  write_model_side_files(dir.tmp_path(), req, qc, pass);
  write_file_atomic(dir.tmp_path() + "/quantize_config.json", qc.dump(2) + "\n");
  dir.commit();
  return stats;
}

OutputStats write_lut(const std::string& out_dir, const WriteRequest& req) {
  OutputStats stats;
  std::vector<std::pair<std::string, LayerShapes>> layers;
  for (const auto& f : req.spool_files)
    for (const auto& [prefix, scheme] : list_sq_layers(f)) layers.emplace_back(prefix, shapes_of(scheme));
  std::vector<std::string> prefixes;
  for (const auto& [p, s] : layers) prefixes.push_back(p);
  const auto pass = pass_through_tensors(req, prefixes);

  AtomicDir dir(out_dir);
  {
    SafetensorsWriter w(dir.tmp_path() + "/model.safetensors");
    w.set_metadata("format", "pt");
    declare_pass_through(w, req, pass);
    for (const auto& [p, s] : layers) {
      if (!s.lut_unsupported.empty())
        throw_error(SQ_ERR_UNSUPPORTED, "layer '", p, "' ", s.lut_unsupported,
                    ", which the LUT format cannot hold: use format 'sq'");
      if (s.n_groups != 1)
        throw_error(SQ_ERR_UNSUPPORTED, "layer '", p, "' has ", s.n_groups,
                    " groups; the LUT format holds one table per row: use group_size -1 or format 'sq'");
      w.declare(p + ".qweight", SQ_DTYPE_I32, {s.cols * s.bits / 32, s.rows});
      w.declare(p + ".lookup_table", SQ_DTYPE_F16, {s.rows, int64_t(1) << s.bits});
    }
    write_pass_through(w, req, pass);
    for (const auto& f : req.spool_files)
      for_each_sq_layer(f, [&](const std::string& prefix, const QuantizedLayer& l) {
        stats.quantized_weights += l.rows * l.cols;
        for (const auto& t : pack_lut_layer(prefix, l)) {
          w.write(t.name, t.bytes.data(), t.bytes.size());
          stats.quantized_bytes += int64_t(t.bytes.size());
        }
      });
    w.finish();
  }
  nlohmann::json qc = base_quant_config(req.options);
  qc["quant_method"] = "squeezellm";  // the per-row LUT layout SqueezeLLM loaders expect
  qc["wbits"] = req.options.bits;
  qc["checkpoint_format"] = "lut";
  qc["effective_bits_per_weight"] = stats.bits_per_weight();
  add_bit_plan(qc, req.options, false);
  write_model_side_files(dir.tmp_path(), req, qc, pass);
  write_file_atomic(dir.tmp_path() + "/quantize_config.json", qc.dump(2) + "\n");
  dir.commit();
  return stats;
}

}  // namespace sq
