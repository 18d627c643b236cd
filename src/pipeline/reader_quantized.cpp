#include "pipeline/reader_quantized.hpp"

#include <cstring>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "io/safetensors_source.hpp"
#include "quant/pack.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/spool.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace sq {
namespace {

enum class Kind { Gptq, Lut, Sq };

class QuantizedSource : public WeightSource {
 public:
  QuantizedSource(std::string file, Kind kind, int bits, std::map<std::string, int> layer_bits, bool gptq_v1)
      : file_(std::move(file)), kind_(kind), bits_(bits), layer_bits_(std::move(layer_bits)), v1_(gptq_v1),
        inner_(open_safetensors_file(file_)) {
    const auto& ts = inner_->tensors();
    if (kind_ == Kind::Sq) {
      for (auto& [prefix, scheme] : list_sq_layers(file_)) {
        layers_[prefix] = scheme;
        tensors_.push_back({prefix + ".weight", SQ_DTYPE_F32, {scheme_dim(prefix, scheme, "rows"), scheme_dim(prefix, scheme, "cols")}});
        origin_.push_back(SIZE_MAX);
      }
      for (size_t i = 0; i < ts.size(); ++i)
        if (ts[i].name.find(kSqPayloadInfix) == std::string::npos) add_pass(i);
      return;
    }
    for (size_t i = 0; i < ts.size(); ++i) {
      const std::string& n = ts[i].name;
      const std::string suffix = ".qweight";
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
        const std::string prefix = n.substr(0, n.size() - suffix.size());
        if (ts[i].shape.size() != 2 || ts[i].dtype != SQ_DTYPE_I32)
          throw_error(SQ_ERR_FORMAT, "file '", file_, "': tensor '", n, "' must be a 2-D I32 tensor");
        const int64_t rows = ts[i].shape[1], cols = ts[i].shape[0] * 32 / bits_of(prefix);
        layers_[prefix] = nlohmann::json::object();
        tensors_.push_back({prefix + ".weight", SQ_DTYPE_F32, {rows, cols}});
        origin_.push_back(SIZE_MAX);
        continue;
      }
      if (is_part(n)) continue;
      add_pass(i);
    }
  }

  const char* format() const override { return "safetensors"; }
  const std::vector<TensorDesc>& tensors() const override { return tensors_; }
  const void* raw_data(size_t index) const override {
    return origin_.at(index) == SIZE_MAX ? nullptr : inner_->raw_data(origin_[index]);
  }

  void read_f32(size_t index, float* dst) const override {
    if (origin_.at(index) != SIZE_MAX) return inner_->read_f32(origin_[index], dst);
    const std::string& name = tensors_[index].name;
    const std::string prefix = name.substr(0, name.size() - std::string(".weight").size());
    const auto w = kind_ == Kind::Sq ? decode_sq(prefix) : decode_packed(prefix, tensors_[index].shape);
    std::memcpy(dst, w.data(), w.size() * sizeof(float));
  }

 private:
  // A layer's shape as its scheme states it; decode_layer checks the payloads against it later.
  int64_t scheme_dim(const std::string& prefix, const nlohmann::json& scheme, const char* key) const {
    const auto it = scheme.is_object() ? scheme.find(key) : scheme.end();
    if (it == scheme.end() || !it->is_number_integer() || it->get<int64_t>() <= 0)
      throw_error(SQ_ERR_FORMAT, "file '", file_, "': scheme of layer '", prefix, "' needs a positive integer '", key, "'");
    return it->get<int64_t>();
  }

  bool is_part(const std::string& n) const {
    for (const char* s : {".qzeros", ".scales", ".g_idx", ".lookup_table"}) {
      const std::string suf = s;
      if (n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0 &&
          layers_.count(n.substr(0, n.size() - suf.size())))
        return true;
      if (n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0 &&
          inner_->find(n.substr(0, n.size() - suf.size()) + ".qweight") != SIZE_MAX)
        return true;
    }
    return false;
  }

  void add_pass(size_t i) {
    tensors_.push_back(inner_->tensors()[i]);
    origin_.push_back(i);
  }

  template <typename T>
  const T* dense(const std::string& name, DType dtype, uint64_t numel) const {
    const size_t i = inner_->find(name);
    if (i == SIZE_MAX) throw_error(SQ_ERR_FORMAT, "file '", file_, "': tensor '", name, "' is missing");
    const auto& d = inner_->tensors()[i];
    if (d.dtype != dtype || d.numel() != numel)
      throw_error(SQ_ERR_FORMAT, "file '", file_, "': tensor '", name, "' must be ", dtype_name(dtype), " with ", numel,
                  " elements, got ", dtype_name(d.dtype), " with ", d.numel());
    return static_cast<const T*>(inner_->raw_data(i));
  }

  std::vector<float> decode_sq(const std::string& prefix) const {
    auto fetch = [&](const std::string& part) {
      const std::string name = prefix + kSqPayloadInfix + part;
      const size_t i = inner_->find(name);
      if (i == SIZE_MAX) throw_error(SQ_ERR_FORMAT, "file '", file_, "': payload tensor '", name, "' is missing");
      return std::make_pair(static_cast<const uint8_t*>(inner_->raw_data(i)), size_t(inner_->tensors()[i].numel()));
    };
    return decode_layer(layers_.at(prefix), fetch, file_ + ": " + prefix).dequant;
  }

  // A layer's own bits from a bit plan (quantization_config "per_layer"), else the checkpoint's.
  int bits_of(const std::string& prefix) const {
    const auto it = layer_bits_.find(prefix);
    return it == layer_bits_.end() ? bits_ : it->second;
  }

  std::vector<float> decode_packed(const std::string& prefix, const std::vector<int64_t>& shape) const {
    const int64_t rows = shape[0], cols = shape[1];
    const int bits = bits_of(prefix);
    const auto* qw = dense<int32_t>(prefix + ".qweight", SQ_DTYPE_I32, uint64_t(cols * bits / 32 * rows));
    const auto codes = gptq::unpack_qweight(qw, rows, cols, bits);
    std::vector<float> w(size_t(rows * cols));
    if (kind_ == Kind::Lut) {
      const int64_t levels = int64_t(1) << bits;
      const auto* lut = dense<uint16_t>(prefix + ".lookup_table", SQ_DTYPE_F16, uint64_t(rows * levels));
      for (int64_t n = 0; n < rows; ++n)
        for (int64_t k = 0; k < cols; ++k)
          w[size_t(n * cols + k)] = half_to_float(lut[n * levels + codes[size_t(n * cols + k)]]);
      return w;
    }
    const auto* g_idx = dense<int32_t>(prefix + ".g_idx", SQ_DTYPE_I32, uint64_t(cols));
    const size_t si = inner_->find(prefix + ".scales");
    if (si == SIZE_MAX || inner_->tensors()[si].shape.size() != 2)
      throw_error(SQ_ERR_FORMAT, "file '", file_, "': tensor '", prefix, ".scales' is missing or not 2-D");
    const int64_t n_groups = inner_->tensors()[si].shape[0];
    const auto* scales = dense<uint16_t>(prefix + ".scales", SQ_DTYPE_F16, uint64_t(n_groups * rows));
    const auto* qz = dense<int32_t>(prefix + ".qzeros", SQ_DTYPE_I32, uint64_t(n_groups * rows * bits / 32));
    // Integer zero points; v1 checkpoints store z - 1 and unpack_qzeros adds the 1 back.
    const auto zeros =
        gptq::unpack_qzeros(qz, n_groups, rows, bits, v1_ ? gptq::CheckpointFormat::V1 : gptq::CheckpointFormat::V2);
    for (int64_t k = 0; k < cols; ++k) {
      const int64_t g = g_idx[k];
      if (g < 0 || g >= n_groups)
        throw_error(SQ_ERR_FORMAT, "file '", file_, "': ", prefix, ".g_idx[", k, "] = ", g, " outside [0, ", n_groups, ")");
      for (int64_t n = 0; n < rows; ++n) {
        const float z = float(zeros[size_t(g * rows + n)]);
        w[size_t(n * cols + k)] = half_to_float(scales[g * rows + n]) * (float(codes[size_t(n * cols + k)]) - z);
      }
    }
    return w;
  }

  std::string file_;
  Kind kind_;
  int bits_;
  std::map<std::string, int> layer_bits_;
  bool v1_;
  std::unique_ptr<WeightSource> inner_;
  std::map<std::string, nlohmann::json> layers_;
  std::vector<TensorDesc> tensors_;
  std::vector<size_t> origin_;  // index in inner_, or SIZE_MAX for a dequantized layer
};

}  // namespace

std::unique_ptr<WeightSource> open_quantized_weights(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string config_path = dir + "/config.json";
  const std::string weights = dir + "/model.safetensors";
  if (!fs::is_directory(dir) || !fs::exists(config_path)) return nullptr;
  const auto config = nlohmann::json::parse(read_file(config_path), nullptr, false);
  if (config.is_discarded() || !config.is_object() || !config.contains("quantization_config")) return nullptr;
  const auto& qc = config["quantization_config"];
  if (!qc.is_object()) return nullptr;
  const std::string method = qc.value("quant_method", "");
  Kind kind;
  if (method == "streamquant") kind = Kind::Sq;
  else if (method == "gptq") kind = Kind::Gptq;
  else if (method == "squeezellm") kind = Kind::Lut;
  else return nullptr;
  if (!fs::exists(weights))
    throw_error(SQ_ERR_NOT_FOUND, "quantized model '", dir, "': model.safetensors is missing");
  int bits = 0;
  if (kind != Kind::Sq) {
    const auto& b = kind == Kind::Lut ? qc.value("wbits", qc.value("bits", nlohmann::json())) : qc.value("bits", nlohmann::json());
    if (!b.is_number_integer() || (b.get<int>() != 2 && b.get<int>() != 3 && b.get<int>() != 4 && b.get<int>() != 8))
      throw_error(SQ_ERR_UNSUPPORTED, "file '", config_path, "': quantization_config bits must be 2, 3, 4 or 8");
    bits = b.get<int>();
  }
  std::map<std::string, int> layer_bits;
  if (kind != Kind::Sq && qc.contains("per_layer") && qc["per_layer"].is_object())
    for (auto it = qc["per_layer"].begin(); it != qc["per_layer"].end(); ++it) {
      const nlohmann::json& b = it.value().is_object() ? it.value().value("bits", nlohmann::json()) : nlohmann::json();
      if (!b.is_number_integer() || (b.get<int>() != 2 && b.get<int>() != 3 && b.get<int>() != 4 && b.get<int>() != 8))
        throw_error(SQ_ERR_FORMAT, "file '", config_path, "': quantization_config per_layer '", it.key(),
                    "' needs bits 2, 3, 4 or 8");
      layer_bits[it.key()] = b.get<int>();
    }
  const std::string ckpt = qc.value("checkpoint_format", "gptq");
  if (kind == Kind::Gptq && ckpt != "gptq" && ckpt != "gptq_v2")
    throw_error(SQ_ERR_UNSUPPORTED, "file '", config_path, "': checkpoint_format '", ckpt, "' is not gptq or gptq_v2");
  return std::make_unique<QuantizedSource>(weights, kind, bits, std::move(layer_bits), ckpt == "gptq");
}

}  // namespace sq
