// The calibration passes' checkpoints (pipeline/pass_checkpoints.hpp, BlockPoint in model/llama_block.hpp): on
// the CPU and on the host stand-in device, a true-sequential series of passes that starts each pass from the
// furthest valid checkpoint gives the same Hessians and outputs, bit for bit, as the same passes each started
// at the block's input (and the device's are the CPU's within rounding); it runs the attention once instead of
// four times; and a checkpoint is never used past a weight that changed before its point.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/offload/device_memory.hpp"
#include "backend_parity.hpp"
#include "host_device_api.hpp"
#include "model/device_block.hpp"
#include "pipeline/block_passes.hpp"
#include "test_files.hpp"
#include "tiny_model.hpp"

namespace {

using sq::LinearGroup;

// One step of a script: a pass to `group` (its Hessian), a change of linear layer `name` (scaled, as a
// quantizer would move it), or (neither) the block's last pass.
struct Step {
  std::optional<LinearGroup> group;
  std::string name;
};
Step pass(LinearGroup g) { return {g, ""}; }
Step change(const std::string& name) { return {std::nullopt, name}; }
const Step kAdvance{std::nullopt, ""};

// The order the job runs: each group's Hessian, then its layers quantized.
const std::vector<Step> kJobOrder = {
    pass(LinearGroup::QKV),    change("self_attn.q_proj"), change("self_attn.k_proj"), change("self_attn.v_proj"),
    pass(LinearGroup::O),      change("self_attn.o_proj"), pass(LinearGroup::GateUp),  change("mlp.gate_proj"),
    change("mlp.up_proj"),     pass(LinearGroup::Down),    change("mlp.down_proj"),    kAdvance};

// The CPU backend, counting its GEMMs (the forward's work; the Hessians are SYRKs).
class CountingCpu final : public sq::Backend {
 public:
  std::string name() const override { return cpu_.name(); }
  int threads() const override { return cpu_.threads(); }
  void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    ++gemms;
    cpu_.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void syrk_ata(int64_t n, int64_t k, float alpha, const float* a, int64_t lda, float beta, float* c,
                int64_t ldc) override {
    cpu_.syrk_ata(n, k, alpha, a, lda, beta, c, ldc);
  }
  bool cholesky_inverse_upper(float* a, int64_t n, int64_t lda) override { return cpu_.cholesky_inverse_upper(a, n, lda); }
  bool cholesky_upper(float* a, int64_t n, int64_t lda) override { return cpu_.cholesky_upper(a, n, lda); }
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override { cpu_.parallel_for(n, fn); }
  std::atomic<size_t> gemms{0};  // the host attention calls gemm from several threads

 private:
  sq::Backend& cpu_ = sq::default_cpu_backend();
};

struct ScriptResult {
  std::vector<std::vector<float>> values;  // each pass's Hessian, then the block's outputs
  size_t gemms_to_first_o = 0, gemms = 0;  // the stand-in's GEMM count after the first O pass, and in all
  bool checkpoints = false;                // a pass left checkpoints on the device
};

// Roomy: checkpoints wherever they help. NoRoom: on the device, a budget that keeps the hidden states but
// misses the checkpoints by a byte. Refused: allow_checkpoints(false).
enum class Checkpoints { Roomy, NoRoom, Refused };

constexpr int64_t kSamples = 3, kTokens = 16;

ScriptResult run_script(sq::Backend& be, const std::vector<Step>& script, const std::function<size_t()>& gemm_count,
                        Checkpoints checkpoints = Checkpoints::Roomy) {
  const sq::ModelConfig c = sqtest::tiny_config();
  const auto src = sqtest::make_tiny_model(c, 71);
  sq::BlockWeights w = sq::load_block_weights(src, c, 0);
  sq::ActivationStore acts(kSamples, kTokens, c.hidden_size, SQ_DTYPE_F32);
  for (int64_t s = 0; s < kSamples; ++s)
    acts.put(s, sqtest::random_matrix(size_t(kTokens * c.hidden_size), 90 + uint32_t(s)).data());
  sq::StageTimes times;
  sq::BlockPasses passes(be, c, w, acts, kTokens, times);
  if (checkpoints == Checkpoints::NoRoom) {
    sq::DeviceMemory& mem = be.device()->memory;
    const uint64_t bytes = uint64_t(kSamples * sq::checkpoint_floats(c, kTokens)) * sizeof(float);
    mem.set_budget(mem.in_use() + sq::quantizer_reserve(c) + sq::DeviceMemory::rounded(bytes) - 1);
  }
  if (checkpoints == Checkpoints::Refused) passes.allow_checkpoints(false);
  ScriptResult r;
  const size_t gemms0 = gemm_count();
  bool first_o = true;
  for (const Step& step : script) {
    if (!step.name.empty()) {
      for (float& x : w.linear(step.name)) x *= 0.9f;
      passes.weight_changed(step.name);
    } else if (step.group) {
      r.values.push_back(passes.hessian_of(*step.group).matrix());
      r.checkpoints = r.checkpoints || passes.checkpoints_held();
      if (*step.group == LinearGroup::O && first_o) r.gemms_to_first_o = gemm_count() - gemms0;
      first_o = first_o && *step.group != LinearGroup::O;
    } else {
      passes.advance();
      EXPECT_FALSE(passes.checkpoints_held()) << "the checkpoints outlive the block's inputs";
      for (int64_t s = 0; s < kSamples; ++s) {
        std::vector<float> h(size_t(acts.sample_floats()));
        acts.get(s, h.data());
        r.values.push_back(h);
      }
    }
  }
  r.gemms = gemm_count() - gemms0;
  return r;
}

struct HostDevice : sq::test::HostDeviceBackend {
  HostDevice() : HostDeviceBackend(uint64_t(1) << 30) {}
  ~HostDevice() { EXPECT_EQ(stats.live_bytes, 0u) << "device memory leaked"; }
};

// The script with and without checkpoints, on the CPU and on the stand-in device.
struct FourRuns {
  ScriptResult cpu, cpu_plain, device, device_plain;
};

// Checks that the runs with and without checkpoints give the same bits, and the device the CPU's values.
FourRuns run_four_ways(const std::vector<Step>& script) {
  FourRuns r;
  CountingCpu cpu, cpu_plain;
  r.cpu = run_script(cpu, script, [&] { return cpu.gemms.load(); });
  r.cpu_plain = run_script(cpu_plain, script, [&] { return cpu_plain.gemms.load(); }, Checkpoints::Refused);
  HostDevice with, without;
  const auto count = [](sq::test::HostDeviceStats& st) {
    return [&st] {
      std::lock_guard<std::mutex> lock(st.mu);
      return st.gemms;
    };
  };
  r.device = run_script(*with.be, script, count(with.stats));
  r.device_plain = run_script(*without.be, script, count(without.stats), Checkpoints::NoRoom);
  EXPECT_TRUE(r.cpu.checkpoints && r.device.checkpoints);
  EXPECT_FALSE(r.cpu_plain.checkpoints || r.device_plain.checkpoints);
  const size_t n = r.cpu_plain.values.size();
  EXPECT_EQ(r.cpu.values, r.cpu_plain.values);
  EXPECT_EQ(r.device.values, r.device_plain.values);
  EXPECT_EQ(r.device.values.size(), n);
  for (size_t i = 0; i < n && i < r.device.values.size(); ++i)
    EXPECT_LT(sqtest::relative_error(r.device.values[i], r.cpu_plain.values[i]), 1e-5) << "value " << i;
  return r;
}

TEST(PassCheckpoints, TheJobsPassesRunTheAttentionOnce) {
  const FourRuns r = run_four_ways(kJobOrder);
  // Per sequence, the O pass runs the q/k/v projections and the attention (the first g_O GEMMs in all).
  // From their checkpoints the GateUp pass runs o_proj, the Down pass gate and up, the last pass gate, up and
  // down. From the input, each of those three passes repeats the O pass's GEMMs before its own.
  for (const auto& [with, without] : {std::pair(r.cpu, r.cpu_plain), std::pair(r.device, r.device_plain)}) {
    const size_t g_o = with.gemms_to_first_o;
    ASSERT_GT(g_o, 0u);
    EXPECT_EQ(without.gemms_to_first_o, g_o);
    EXPECT_EQ(with.gemms, g_o + size_t(kSamples) * (1 + 2 + 3));
    EXPECT_EQ(without.gemms, 4 * g_o + size_t(kSamples) * (1 + 3 + 4));
  }
}

TEST(PassCheckpoints, ACheckpointIsNotUsedPastAWeightChangedBeforeIt) {
  // A key projection changed after the attention output was saved: the GateUp pass must recompute it.
  run_four_ways({pass(LinearGroup::O), change("self_attn.k_proj"), pass(LinearGroup::GateUp), kAdvance});
  // o_proj changed after the residual was saved: the Down pass must start at the input again.
  run_four_ways({pass(LinearGroup::GateUp), change("self_attn.o_proj"), pass(LinearGroup::Down), kAdvance});
  // o_proj changed after the attention output was saved: that checkpoint still holds; the MLP's changes keep
  // the residual the Down pass saves, which the last pass starts from.
  const FourRuns r = run_four_ways({pass(LinearGroup::O), change("self_attn.o_proj"), pass(LinearGroup::Down),
                                    change("mlp.up_proj"), kAdvance});
  for (const ScriptResult* with : {&r.cpu, &r.device})
    EXPECT_EQ(with->gemms, with->gemms_to_first_o + size_t(kSamples) * (1 + 2 + 3));
  // Passes that stop before any checkpoint, or repeat one, change nothing.
  run_four_ways({pass(LinearGroup::QKV), pass(LinearGroup::O), pass(LinearGroup::O), pass(LinearGroup::QKV),
                 pass(LinearGroup::GateUp), pass(LinearGroup::O), kAdvance});
}

}  // namespace

namespace {

TEST(PassCheckpoints, JobOptionTurnsThemOffWithTheSameLayersAndFingerprint) {
  HostDevice dev, dev_plain;
  const auto cpu = sqtest::tiny_gptq_job(sq::default_cpu_backend());
  EXPECT_EQ(sqtest::tiny_gptq_job(sq::default_cpu_backend(), {{"pass_checkpoints", "false"}}), cpu);
  const auto device = sqtest::tiny_gptq_job(*dev.be);
  EXPECT_EQ(sqtest::tiny_gptq_job(*dev_plain.be, {{"pass_checkpoints", "false"}}), device);
  EXPECT_LT(dev.stats.gemms, dev_plain.stats.gemms);
  // A job may resume with the other setting: it is not part of what the checkpoint must match.
  sq::JobOptions a, b;
  b.set("pass_checkpoints", "false");
  EXPECT_FALSE(b.pass_checkpoints);
  EXPECT_EQ(a.canonical(), b.canonical());
  sqtest::expect_error([&] { b.set("pass_checkpoints", "sometimes"); }, SQ_ERR_INVALID_ARGUMENT, {"pass_checkpoints"});
}

}  // namespace
