// Hostile inputs at the job level: a NaN weight is reported with the tensor's name, a checkpoint whose
// state.json has fields of the wrong type is SQ_ERR_FORMAT (not a JSON library exception), and a checkpoint
// of a model with the same layout but other weights is refused by the fingerprint.
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "backend_parity.hpp"
#include "io/model_files.hpp"
#include "pipeline/job.hpp"
#include "test_files.hpp"
#include "tiny_model.hpp"

namespace {

class HostileJob : public ::testing::Test {
 protected:
  sq::ModelFiles model(uint32_t seed, float poison = 0.0f) {
    const auto cfg = sqtest::tiny_config();
    auto source = std::make_unique<sqtest::MemorySource>(sqtest::make_tiny_model(cfg, seed));
    if (poison != 0.0f) source->data("model.layers.0.self_attn.k_proj.weight")[5] = poison;
    sq::ModelFiles m;
    m.path = "memory";
    m.config = cfg;
    m.weights = std::move(source);
    return m;
  }
  void configure(sq::Job& job, const std::string& checkpoint, bool resume) {
    sqtest::configure_tiny_gptq(job, 2, 8);
    job.options().checkpoint_dir = checkpoint;
    job.options().resume = resume;
  }
  std::unique_ptr<sq::Backend> be_ = sq::make_cpu_backend(2);
  sq::Logger log_;
  sqtest::TempDir tmp_;
};

TEST_F(HostileJob, NanWeightNamesTheTensor) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const sq::ModelFiles m = model(1, bad);
    sq::Job job(*be_, log_, m);
    configure(job, "", false);
    sqtest::expect_error([&] { job.run(); }, SQ_ERR_NUMERIC, {"model.layers.0.self_attn.k_proj.weight"});
  }
}

TEST_F(HostileJob, CheckpointStateWithWrongTypesIsAFormatError) {
  const std::string ckpt = tmp_.file("ckpt");
  for (const char* state : {R"({"fingerprint": 5, "next_block": 1})", R"({"fingerprint": "ab", "next_block": "1"})",
                            "[1, 2]", "{"}) {
    std::filesystem::create_directories(ckpt);
    sqtest::write_bytes(ckpt + "/state.json", state);
    const sq::ModelFiles m = model(1);
    sq::Job job(*be_, log_, m);
    configure(job, ckpt, true);
    sqtest::expect_error([&] { job.step(); }, SQ_ERR_FORMAT, {"state.json"});
  }
}

TEST_F(HostileJob, CheckpointOfAnotherModelWithTheSameLayoutIsRefused) {
  const std::string ckpt = tmp_.file("ckpt");
  {
    const sq::ModelFiles m = model(1);
    sq::Job job(*be_, log_, m);
    configure(job, ckpt, false);
    ASSERT_FALSE(job.step());  // one of two blocks done, checkpoint written
  }
  const sq::ModelFiles other = model(2);  // same config and shapes, other values
  sq::Job job(*be_, log_, other);
  configure(job, ckpt, true);
  sqtest::expect_error([&] { job.step(); }, SQ_ERR_STATE, {ckpt, "fingerprint"});
}

}  // namespace
