// config.json -> ModelConfig. Field semantics and per-architecture defaults follow transformers'
// LlamaConfig / MistralConfig / Qwen2Config / Qwen3Config, so that a config which omits an optional field
// means the same model here as it does there.
#include "io/model_config.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "util/error.hpp"

namespace sq {
namespace {

struct ArchInfo {
  const char* name;
  const char* model_type;
  Arch arch;
  // transformers' defaults for fields a config may omit.
  int64_t default_kv_heads;  // 0: equal to num_attention_heads
  int64_t default_head_dim;  // 0: hidden_size / num_attention_heads
  int64_t default_max_positions;
};

const ArchInfo kArchs[] = {
    {"LlamaForCausalLM", "llama", Arch::Llama, 0, 0, 2048},
    {"MistralForCausalLM", "mistral", Arch::Mistral, 8, 0, 4096 * 32},
    {"Qwen2ForCausalLM", "qwen2", Arch::Qwen2, 32, 0, 32768},
    {"Qwen3ForCausalLM", "qwen3", Arch::Qwen3, 32, 128, 32768},
};

std::string supported_list() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

// Typed field access that names the file and field on every failure.
class Fields {
 public:
  Fields(const nlohmann::json& doc, const std::string& source) : doc_(doc), source_(source) {}

  bool has(const char* key) const { return doc_.contains(key) && !doc_.at(key).is_null(); }

  int64_t integer(const char* key) const {
    if (!has(key)) throw_error(SQ_ERR_FORMAT, "config '", source_, "': required field '", key, "' is missing");
    return as_integer(doc_.at(key), key);
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }

  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = doc_.at(key);
    if (!v.is_number())
      throw_error(SQ_ERR_FORMAT, "config '", source_, "': field '", key, "' must be a number, got ", v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d)) throw_error(SQ_ERR_FORMAT, "config '", source_, "': field '", key, "' is not finite");
    return d;
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = doc_.at(key);
    if (!v.is_boolean())
      throw_error(SQ_ERR_FORMAT, "config '", source_, "': field '", key, "' must be true or false, got ", v.dump());
    return v.get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = doc_.at(key);
    if (!v.is_string())
      throw_error(SQ_ERR_FORMAT, "config '", source_, "': field '", key, "' must be a string, got ", v.dump());
    return v.get<std::string>();
  }

  int64_t as_integer(const nlohmann::json& v, const std::string& key) const {
    // JSON writers sometimes emit integral values as 8192.0; accept those, refuse 1.5.
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return int64_t(d);
    }
    throw_error(SQ_ERR_FORMAT, "config '", source_, "': field '", key, "' must be an integer, got ", v.dump());
  }

  const nlohmann::json& doc() const { return doc_; }
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& doc_;
  const std::string& source_;
};

void require_positive(const std::string& source, const char* field, int64_t value) {
  if (value <= 0)
    throw_error(SQ_ERR_FORMAT, "config '", source, "': field '", field, "' must be positive, got ", value);
}

const ArchInfo& pick_architecture(const Fields& f) {
  const auto& doc = f.doc();
  std::string name;
  if (doc.contains("architectures") && doc.at("architectures").is_array() && !doc.at("architectures").empty()) {
    const auto& first = doc.at("architectures").at(0);
    if (!first.is_string())
      throw_error(SQ_ERR_FORMAT, "config '", f.source(), "': field 'architectures' must list strings, got ",
                  first.dump());
    name = first.get<std::string>();
  } else if (f.has("model_type")) {
    // Like transformers' Auto classes, fall back to model_type when no architecture is listed.
    const std::string type = f.string("model_type", "");
    for (const auto& a : kArchs)
      if (type == a.model_type) return a;
    throw_error(SQ_ERR_UNSUPPORTED, "config '", f.source(), "': model_type '", type,
                "' is not supported (supported architectures: ", supported_list(), ")");
  } else {
    throw_error(SQ_ERR_FORMAT, "config '", f.source(),
                "': neither 'architectures' (e.g. [\"LlamaForCausalLM\"]) nor 'model_type' is given");
  }
  for (const auto& a : kArchs)
    if (name == a.name) return a;
  throw_error(SQ_ERR_UNSUPPORTED, "config '", f.source(), "': architecture '", name,
              "' is not supported (supported: ", supported_list(), ")");
}

// RoPE parameters live in "rope_scaling" (transformers 4) or "rope_parameters" (transformers 5, which also
// moves rope_theta inside). Returns the scaling (nullopt for plain RoPE) and updates `theta` when given there.
std::optional<RopeScaling> parse_rope_scaling(const Fields& f, int64_t max_position_embeddings, double& theta) {
  const char* key = f.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!f.has(key)) return std::nullopt;
  const auto& rs = f.doc().at(key);
  if (!rs.is_object())
    throw_error(SQ_ERR_FORMAT, "config '", f.source(), "': field '", key, "' must be an object or null, got ",
                rs.dump());
  const Fields sub(rs, f.source());
  const std::string field_prefix = std::string(key) + ".";
  if (sub.has("rope_theta")) theta = sub.number("rope_theta", theta);
  // transformers reads "rope_type", falls back to the legacy "type", and treats neither as "default".
  const std::string type = sub.string("rope_type", sub.string("type", "default"));
  if (type == "default") return std::nullopt;  // plain RoPE, no scaling
  if (type != "llama3")
    throw_error(SQ_ERR_UNSUPPORTED, "config '", f.source(), "': ", key, " type '", type,
                "' is not supported (supported: llama3, default)");
  if (sub.has("partial_rotary_factor") && sub.number("partial_rotary_factor", 1.0) != 1.0)
    throw_error(SQ_ERR_UNSUPPORTED, "config '", f.source(), "': ", key,
                ".partial_rotary_factor other than 1 is not supported");

  RopeScaling r;
  r.type = type;
  auto number = [&](const char* name) {
    if (!sub.has(name))
      throw_error(SQ_ERR_FORMAT, "config '", f.source(), "': field '", field_prefix, name,
                  "' is required for rope_type llama3");
    return sub.number(name, 0.0);
  };
  r.factor = number("factor");
  r.low_freq_factor = number("low_freq_factor");
  r.high_freq_factor = number("high_freq_factor");
  // transformers falls back to max_position_embeddings when the pretraining length is not given.
  r.original_max_position_embeddings = sub.has("original_max_position_embeddings")
                                           ? sub.as_integer(rs.at("original_max_position_embeddings"),
                                                            field_prefix + "original_max_position_embeddings")
                                           : max_position_embeddings;
  if (!(r.factor > 0.0))
    throw_error(SQ_ERR_FORMAT, "config '", f.source(), "': field '", field_prefix, "factor' must be positive, got ",
                r.factor);
  if (!(r.low_freq_factor > 0.0) || !(r.high_freq_factor > r.low_freq_factor))
    throw_error(SQ_ERR_FORMAT, "config '", f.source(), "': ", key,
                " needs 0 < low_freq_factor < high_freq_factor, got low_freq_factor ", r.low_freq_factor,
                " and high_freq_factor ", r.high_freq_factor);
  if (r.original_max_position_embeddings <= 0)
    throw_error(SQ_ERR_FORMAT, "config '", f.source(), "': field '", field_prefix,
                "original_max_position_embeddings' must be positive, got ", r.original_max_position_embeddings);
  return r;
}

}  // namespace

const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& a : kArchs) v.emplace_back(a.name);
    return v;
  }();
  return names;
}

std::string ModelConfig::layer_prefix(int64_t i) const { return "model.layers." + std::to_string(i) + "."; }

ModelConfig parse_model_config(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) throw_error(SQ_ERR_FORMAT, "config '", source, "': the document is not a JSON object");
  const Fields f(doc, source);
  const ArchInfo& info = pick_architecture(f);

  ModelConfig c;
  c.architecture = info.name;
  c.arch = info.arch;
  c.raw = doc;

  c.hidden_size = f.integer("hidden_size");
  c.intermediate_size = f.integer("intermediate_size");
  c.num_hidden_layers = f.integer("num_hidden_layers");
  c.num_attention_heads = f.integer("num_attention_heads");
  c.vocab_size = f.integer("vocab_size");
  require_positive(source, "hidden_size", c.hidden_size);
  require_positive(source, "intermediate_size", c.intermediate_size);
  require_positive(source, "num_hidden_layers", c.num_hidden_layers);
  require_positive(source, "num_attention_heads", c.num_attention_heads);
  require_positive(source, "vocab_size", c.vocab_size);

  c.num_key_value_heads =
      f.integer("num_key_value_heads", info.default_kv_heads > 0 ? info.default_kv_heads : c.num_attention_heads);
  require_positive(source, "num_key_value_heads", c.num_key_value_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw_error(SQ_ERR_FORMAT, "config '", source, "': num_attention_heads (", c.num_attention_heads,
                ") must be a multiple of num_key_value_heads (", c.num_key_value_heads, ")");

  if (f.has("head_dim")) {
    c.head_dim = f.integer("head_dim");
  } else if (info.default_head_dim > 0) {
    c.head_dim = info.default_head_dim;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      throw_error(SQ_ERR_FORMAT, "config '", source, "': hidden_size (", c.hidden_size,
                  ") is not a multiple of num_attention_heads (", c.num_attention_heads,
                  ") and no 'head_dim' is given");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  require_positive(source, "head_dim", c.head_dim);
  if (c.head_dim % 2 != 0)
    throw_error(SQ_ERR_FORMAT, "config '", source, "': head_dim must be even for rotary embeddings, got ",
                c.head_dim);

  c.max_position_embeddings = f.integer("max_position_embeddings", info.default_max_positions);
  require_positive(source, "max_position_embeddings", c.max_position_embeddings);

  c.rms_norm_eps = f.number("rms_norm_eps", 1e-6);
  if (!(c.rms_norm_eps > 0.0))
    throw_error(SQ_ERR_FORMAT, "config '", source, "': field 'rms_norm_eps' must be positive, got ", c.rms_norm_eps);
  c.rope_theta = f.number("rope_theta", 10000.0);
  c.rope_scaling = parse_rope_scaling(f, c.max_position_embeddings, c.rope_theta);
  if (!(c.rope_theta > 1.0))
    throw_error(SQ_ERR_FORMAT, "config '", source, "': field 'rope_theta' must be greater than 1, got ",
                c.rope_theta);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  c.torch_dtype = f.string("torch_dtype", f.string("dtype", ""));

  const std::string act = f.string("hidden_act", "silu");
  if (act != "silu")
    throw_error(SQ_ERR_UNSUPPORTED, "config '", source, "': hidden_act '", act, "' is not supported (only silu)");
  if (f.boolean("mlp_bias", false))
    throw_error(SQ_ERR_UNSUPPORTED, "config '", source, "': mlp_bias true is not supported");
  if (f.has("partial_rotary_factor") && f.number("partial_rotary_factor", 1.0) != 1.0)
    throw_error(SQ_ERR_UNSUPPORTED, "config '", source, "': partial_rotary_factor other than 1 is not supported");

  switch (c.arch) {
    case Arch::Llama:
      // LlamaAttention gives q, k, v and o the same `attention_bias`.
      c.attention_bias = c.o_bias = f.boolean("attention_bias", false);
      break;
    case Arch::Mistral:
      // Mistral has no biases; its attention may use a sliding window.
      // MistralConfig defaults to a 4096 window when the key is absent; an explicit null means none.
      c.sliding_window = !doc.contains("sliding_window") ? 4096 : f.integer("sliding_window", 0);
      if (c.sliding_window < 0)
        throw_error(SQ_ERR_FORMAT, "config '", source, "': field 'sliding_window' must not be negative, got ",
                    c.sliding_window);
      break;
    case Arch::Qwen2:
      c.attention_bias = true;  // Qwen2 always has q/k/v biases and never an o_proj bias
      if (f.boolean("use_sliding_window", false))
        throw_error(SQ_ERR_UNSUPPORTED, "config '", source, "': use_sliding_window true is not supported");
      break;
    case Arch::Qwen3:
      c.attention_bias = c.o_bias = f.boolean("attention_bias", false);
      c.qk_norm = true;
      if (f.boolean("use_sliding_window", false))
        throw_error(SQ_ERR_UNSUPPORTED, "config '", source, "': use_sliding_window true is not supported");
      break;
  }
  return c;
}

ModelConfig load_model_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error(SQ_ERR_IO, "config '", path, "': cannot open the file for reading");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw_error(SQ_ERR_IO, "config '", path, "': read error");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw_error(SQ_ERR_FORMAT, "config '", path, "': invalid JSON: ", e.what());
  }
  return parse_model_config(doc, path);
}

}  // namespace sq
