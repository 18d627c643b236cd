#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "io/model_config.hpp"
#include "util/error.hpp"

namespace {

using nlohmann::json;

json llama_doc() {
  return json{{"architectures", {"LlamaForCausalLM"}},
              {"hidden_size", 64},
              {"intermediate_size", 128},
              {"num_hidden_layers", 2},
              {"num_attention_heads", 8},
              {"vocab_size", 100}};
}

// Runs parse_model_config expecting an sq::Error; returns it.
sq::Error parse_error(const json& doc) {
  try {
    sq::parse_model_config(doc, "dir/config.json");
  } catch (const sq::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an error for " << doc.dump();
  return sq::Error(SQ_OK, "");
}

TEST(ModelConfig, LlamaDefaultsFollowTransformers) {
  const sq::ModelConfig c = sq::parse_model_config(llama_doc(), "config.json");
  EXPECT_EQ(c.arch, sq::Arch::Llama);
  EXPECT_EQ(c.head_dim, 8);              // hidden / heads
  EXPECT_EQ(c.num_key_value_heads, 8);   // = heads when absent
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.layer_prefix(3), "model.layers.3.");
}

TEST(ModelConfig, Llama3RopeScalingWithEitherTypeKey) {
  for (const char* key : {"rope_type", "type"}) {
    json doc = llama_doc();
    doc["num_key_value_heads"] = 2;
    doc["head_dim"] = 16;
    doc["rope_theta"] = 500000.0;
    doc["tie_word_embeddings"] = true;
    doc["rope_scaling"] = {{key, "llama3"},
                           {"factor", 8.0},
                           {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0},
                           {"original_max_position_embeddings", 8192}};
    const sq::ModelConfig c = sq::parse_model_config(doc, "config.json");
    ASSERT_TRUE(c.rope_scaling.has_value()) << key;
    EXPECT_EQ(c.rope_scaling->type, "llama3");
    EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 8.0);
    EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.num_key_value_heads, 2);
    EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
    EXPECT_TRUE(c.tie_word_embeddings);
  }
}

TEST(ModelConfig, RopeParametersOfTransformers5) {
  json doc = llama_doc();
  doc["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 123456.0}};
  const sq::ModelConfig c = sq::parse_model_config(doc, "config.json");
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(c.rope_theta, 123456.0);
}

TEST(ModelConfig, QwenFamiliesAndMistral) {
  json q2 = llama_doc();
  q2["architectures"] = {"Qwen2ForCausalLM"};
  q2["num_key_value_heads"] = 2;
  const sq::ModelConfig c2 = sq::parse_model_config(q2, "config.json");
  EXPECT_EQ(c2.arch, sq::Arch::Qwen2);
  EXPECT_TRUE(c2.attention_bias);
  EXPECT_FALSE(c2.o_bias);
  EXPECT_FALSE(c2.qk_norm);

  json q3 = llama_doc();
  q3["architectures"] = {"Qwen3ForCausalLM"};
  q3["num_key_value_heads"] = 4;
  q3["attention_bias"] = false;
  const sq::ModelConfig c3 = sq::parse_model_config(q3, "config.json");
  EXPECT_TRUE(c3.qk_norm);
  EXPECT_FALSE(c3.attention_bias);
  EXPECT_EQ(c3.head_dim, 128);  // Qwen3Config's default, not hidden / heads

  json m = llama_doc();
  m["architectures"] = {"MistralForCausalLM"};
  const sq::ModelConfig cm = sq::parse_model_config(m, "config.json");
  EXPECT_EQ(cm.num_key_value_heads, 8);
  EXPECT_EQ(cm.sliding_window, 4096);  // MistralConfig's default when the key is absent
  m["sliding_window"] = nullptr;
  EXPECT_EQ(sq::parse_model_config(m, "config.json").sliding_window, 0);
}

TEST(ModelConfig, UnknownArchitectureNamesItAndTheSupportedList) {
  json doc = llama_doc();
  doc["architectures"] = {"GPT2LMHeadModel"};
  const sq::Error e = parse_error(doc);
  EXPECT_EQ(e.code(), SQ_ERR_UNSUPPORTED);
  const std::string msg = e.what();
  EXPECT_NE(msg.find("GPT2LMHeadModel"), std::string::npos) << msg;
  for (const auto& name : sq::supported_architectures()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_NE(msg.find("dir/config.json"), std::string::npos) << msg;
}

TEST(ModelConfig, MissingNegativeAndInconsistentFieldsAreNamed) {
  struct Case {
    const char* field;
    json value;  // null = remove
    int32_t code;
    const char* expect;
  };
  const Case cases[] = {
      {"hidden_size", nullptr, SQ_ERR_FORMAT, "'hidden_size' is missing"},
      {"vocab_size", nullptr, SQ_ERR_FORMAT, "'vocab_size' is missing"},
      {"intermediate_size", -5, SQ_ERR_FORMAT, "'intermediate_size' must be positive"},
      {"num_hidden_layers", 0, SQ_ERR_FORMAT, "'num_hidden_layers' must be positive"},
      {"num_key_value_heads", 3, SQ_ERR_FORMAT, "multiple of num_key_value_heads (3)"},
      {"hidden_size", 60, SQ_ERR_FORMAT, "not a multiple of num_attention_heads"},
      {"hidden_size", "64", SQ_ERR_FORMAT, "'hidden_size' must be an integer"},
      {"rms_norm_eps", -1.0, SQ_ERR_FORMAT, "'rms_norm_eps' must be positive"},
      {"hidden_act", "gelu", SQ_ERR_UNSUPPORTED, "hidden_act 'gelu'"},
      {"rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4.0}}, SQ_ERR_UNSUPPORTED, "type 'yarn'"},
      {"rope_scaling", json{{"rope_type", "llama3"}, {"factor", 8.0}}, SQ_ERR_FORMAT, "rope_scaling.low_freq_factor"},
      {"tie_word_embeddings", "yes", SQ_ERR_FORMAT, "'tie_word_embeddings' must be true or false"},
  };
  for (const Case& c : cases) {
    json doc = llama_doc();
    if (c.value.is_null())
      doc.erase(c.field);
    else
      doc[c.field] = c.value;
    const sq::Error e = parse_error(doc);
    EXPECT_EQ(e.code(), c.code) << c.field << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dir/config.json"), std::string::npos) << e.what();
  }
}

TEST(ModelConfig, ModelTypeStandsInForMissingArchitectures) {
  json doc = llama_doc();
  doc.erase("architectures");
  doc["model_type"] = "qwen2";
  doc["num_key_value_heads"] = 2;  // Qwen2Config would default to 32
  EXPECT_EQ(sq::parse_model_config(doc, "c").arch, sq::Arch::Qwen2);
  doc["model_type"] = "gpt2";
  EXPECT_EQ(parse_error(doc).code(), SQ_ERR_UNSUPPORTED);
  doc.erase("model_type");
  EXPECT_EQ(parse_error(doc).code(), SQ_ERR_FORMAT);
}

TEST(ModelConfig, IntegralFloatsAreAcceptedFractionsRefused) {
  json doc = llama_doc();
  doc["hidden_size"] = 64.0;
  EXPECT_EQ(sq::parse_model_config(doc, "c").hidden_size, 64);
  doc["hidden_size"] = 64.5;
  EXPECT_EQ(parse_error(doc).code(), SQ_ERR_FORMAT);
}

TEST(ModelConfig, LoadReportsMissingFileAndBadJson) {
  try {
    sq::load_model_config("/nonexistent/dir/config.json");
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_IO);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/config.json"), std::string::npos);
  }
  const std::string path = testing::TempDir() + "sq_bad_config.json";
  std::ofstream(path) << "{\"architectures\": [\"LlamaForCausalLM\"], ";
  try {
    sq::load_model_config(path);
    FAIL() << "expected an error";
  } catch (const sq::Error& e) {
    EXPECT_EQ(e.code(), SQ_ERR_FORMAT);
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

}  // namespace
