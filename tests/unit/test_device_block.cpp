// The device-resident block forward and Hessians (model/device_block.hpp, pipeline/device_hessian.hpp,
// pipeline/block_passes.hpp) over the host stand-in device: the same outputs and Hessians as the host
// block_forward for every architecture variant, with and without batched attention scores, and a clear
// error when the block does not fit the budget.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>

#include "backend/offload/offload_backend.hpp"
#include "device_block_parity.hpp"
#include "pipeline/block_passes.hpp"
#include "host_device_api.hpp"
#include "test_files.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

namespace {

struct HostDevice : sq::test::HostDeviceBackend {
  explicit HostDevice(uint64_t budget) : HostDeviceBackend(budget) {}
  ~HostDevice() { EXPECT_EQ(stats.live_bytes, 0u) << "device memory leaked"; }
};

sq::ModelConfig variant(const std::string& which) {
  if (which == "mha") return sqtest::tiny_config("LlamaForCausalLM", 4, 4);
  sq::ModelConfig c = sqtest::tiny_config(which == "qwen2" ? "Qwen2ForCausalLM"
                                          : which == "qwen3" ? "Qwen3ForCausalLM"
                                                             : "LlamaForCausalLM");
  if (which == "qwen3") c.o_bias = c.attention_bias = true;
  if (which == "sliding") c.sliding_window = 5;
  if (which == "llama3") c.rope_scaling = sq::RopeScaling{"llama3", 8.0, 1.0, 4.0, 64};
  return c;
}

class DeviceBlockVsHost : public testing::TestWithParam<const char*> {};

TEST_P(DeviceBlockVsHost, SameOutputsAndHessians) {
  const sq::ModelConfig c = variant(GetParam());
  HostDevice dev(uint64_t(1) << 30);
  // 20 of 24 positions: a sequence shorter than the block was sized for.
  const auto p = sqtest::device_block_parity(*dev.be, c, 20, 24, 3);
  EXPECT_EQ(p.score_heads, c.num_attention_heads / c.num_key_value_heads);
  EXPECT_LT(p.hidden, 1e-5);
  for (double e : p.hessian) EXPECT_LT(e, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Variants, DeviceBlockVsHost,
                         testing::Values("llama", "mha", "qwen2", "qwen3", "sliding", "llama3"));

TEST(DeviceBlock, TightBudgetComputesScoresOneHeadAtATime) {
  const sq::ModelConfig c = sqtest::tiny_config();  // 4 query heads on 2 KV heads
  // At 64 tokens the tiny block's weights and per-sequence buffers take ~100 KiB and a score matrix 16 KiB
  // a head: with 160 KiB a quarter of the rest holds less than two heads, and the Hessians still fit.
  HostDevice dev(160 << 10);
  const auto p = sqtest::device_block_parity(*dev.be, c, 64, 64, 4, 1);
  EXPECT_EQ(p.score_heads, 1);
  EXPECT_LT(p.hidden, 1e-5);
  EXPECT_LE(dev.stats.peak_bytes, size_t(160 << 10));
}

TEST(DeviceBlock, UpdatedWeightIsUsedByLaterPasses) {
  const sq::ModelConfig c = sqtest::tiny_config();
  const auto src = sqtest::make_tiny_model(c, 9);
  sq::BlockWeights w = sq::load_block_weights(src, c, 0);
  const sq::RopeTables rope = sq::make_rope_tables(c, 16);
  HostDevice dev(uint64_t(1) << 30);
  sq::DeviceBlock block(*dev.be->device(), c, w, rope, 16);
  for (float& x : w.down) x *= 0.5f;
  block.update_linear("mlp.down_proj", w.down);
  const auto x = sqtest::random_matrix(size_t(16 * c.hidden_size), 5);
  auto d = x, h = x;
  block.forward(d.data(), 16);
  sq::block_forward(sq::default_cpu_backend(), c, w, rope, h.data(), 16);
  EXPECT_LT(sqtest::relative_error(d, h), 1e-5);
  sqtest::expect_error([&] { block.update_linear("mlp.nonesuch", w.down); }, SQ_ERR_INVALID_ARGUMENT,
                       {"mlp.nonesuch"});
  sqtest::expect_error([&] { block.update_linear("mlp.up_proj", w.q); }, SQ_ERR_INVALID_ARGUMENT,
                       {"mlp.up_proj", "weights, not"});
  sqtest::expect_error([&] { block.forward(d.data(), 17); }, SQ_ERR_INVALID_ARGUMENT, {"17 tokens", "16"});
}

TEST(DeviceBlock, BlockLargerThanTheBudgetIsAClearError) {
  const sq::ModelConfig c = sqtest::tiny_config();
  const auto src = sqtest::make_tiny_model(c, 9);
  const sq::BlockWeights w = sq::load_block_weights(src, c, 0);
  const sq::RopeTables rope = sq::make_rope_tables(c, 16);
  HostDevice dev(8 << 10);
  sqtest::expect_error([&] { sq::DeviceBlock block(*dev.be->device(), c, w, rope, 16); }, SQ_ERR_OUT_OF_MEMORY,
                       {"the block's weights", "hostdev:0", "--gpu-mem-budget"});
}

TEST(DeviceBlock, ReducedGemmInputsAreAskedForOnlyDuringTheForwardPasses) {
  const auto fp32 = sqtest::tiny_gptq_job(sq::default_cpu_backend());
  for (const sq::MatmulInputs inputs : {sq::MatmulInputs::TF32, sq::MatmulInputs::BF16}) {
    HostDevice dev(uint64_t(1) << 30);
    dev.be->set_forward_matmul(inputs);
    const auto out = sqtest::tiny_gptq_job(*dev.be);
    EXPECT_GT(dev.stats.reduced_scopes, 0u);
    EXPECT_EQ(dev.stats.matmul_now, sq::MatmulInputs::FP32) << "reduced inputs left on after a forward pass";
    EXPECT_GT(dev.stats.sweep_blocks, 0u);
    EXPECT_EQ(dev.stats.sweeps_under_reduced, 0u);
    if (inputs != sq::MatmulInputs::BF16) continue;
    // The stand-in rounds bf16 inputs for real: the layers move, within the error of 8-bit mantissas
    // compounded over two blocks, and the GPTQ codes that flip with them (measured: 0.055).
    ASSERT_EQ(out.size(), fp32.size());
    double worst = 0;
    for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, sqtest::relative_error(out[i], fp32[i]));
    EXPECT_GT(worst, 0.0) << "bf16 inputs were not rounded";
    EXPECT_LT(worst, 0.1);
    std::printf("tiny GPTQ job, bf16 forward inputs: largest layer difference from fp32 %.3g\n", worst);
  }
  HostDevice plain(uint64_t(1) << 30);
  sqtest::tiny_gptq_job(*plain.be);
  EXPECT_EQ(plain.stats.reduced_scopes, 0u) << "fp32 is the default";
}

// What a true-sequential quantizer sees from BlockPasses: two groups' Hessians with a weight changed in
// between, and the block outputs.
struct PassesResult {
  std::vector<std::vector<float>> values;
  bool on_device = false, resident = false;
};

// Three random calibration sequences of 16 tokens.
void fill_hidden_states(sq::ActivationStore& acts, int64_t hidden, uint32_t seed) {
  for (int64_t s = 0; s < 3; ++s) acts.put(s, sqtest::random_matrix(size_t(16 * hidden), seed + uint32_t(s)).data());
}

void append_hidden_states(const sq::ActivationStore& acts, std::vector<std::vector<float>>& values) {
  for (int64_t s = 0; s < acts.samples(); ++s) {
    std::vector<float> h(size_t(acts.sample_floats()));
    acts.get(s, h.data());
    values.push_back(h);
  }
}

PassesResult run_passes(sq::Backend& be) {
  const sq::ModelConfig c = sqtest::tiny_config();
  const auto src = sqtest::make_tiny_model(c, 31);
  sq::BlockWeights w = sq::load_block_weights(src, c, 0);
  sq::ActivationStore acts(3, 16, c.hidden_size, SQ_DTYPE_F32);
  fill_hidden_states(acts, c.hidden_size, 40);
  sq::StageTimes times;
  sq::BlockPasses passes(be, c, w, acts, 16, times);
  PassesResult r;
  r.on_device = passes.on_device();
  r.resident = passes.activations_on_device();
  r.values.push_back(passes.hessian_of(sq::LinearGroup::QKV).matrix());
  for (float& x : w.q) x *= 0.9f;
  passes.weight_changed("self_attn.q_proj");
  r.values.push_back(passes.hessian_of(sq::LinearGroup::O).matrix());
  passes.advance();
  append_hidden_states(acts, r.values);
  EXPECT_GT(times.forward, 0.0);
  return r;
}

TEST(DeviceBlock, PassesMatchTheHostWithActivationsResidentOrStreamed) {
  const PassesResult ref = run_passes(sq::default_cpu_backend());
  EXPECT_FALSE(ref.on_device);
  // 32 MiB: the block, not the quantizers' reserve. The hidden states then stream through two device buffers
  // (each pass's sequences go up while the previous one computes; the advance's come back the same way).
  HostDevice roomy(uint64_t(1) << 30), tight(uint64_t(32) << 20);
  for (HostDevice* dev : {&roomy, &tight}) {
    const PassesResult out = run_passes(*dev->be);
    EXPECT_TRUE(out.on_device);
    EXPECT_EQ(out.resident, dev == &roomy);
    EXPECT_EQ(dev->stats.async_uploads, dev == &roomy ? 0u : 3u * 3u) << "3 sequences, 2 Hessian passes, 1 advance";
    EXPECT_EQ(dev->stats.async_downloads, dev == &roomy ? 0u : 3u);
    EXPECT_TRUE(dev->stats.pending.empty());
    ASSERT_EQ(out.values.size(), ref.values.size());
    for (size_t i = 0; i < ref.values.size(); ++i)
      EXPECT_LT(sqtest::relative_error(out.values[i], ref.values[i]), 1e-5) << "value " << i << " resident " << out.resident;
  }
}

TEST(DeviceBlock, AStreamedPassThatFailsLeavesNoCopyBehindAndCanRunAgain) {
  const sq::ModelConfig c = sqtest::tiny_config();
  const auto src = sqtest::make_tiny_model(c, 31);
  const sq::BlockWeights w = sq::load_block_weights(src, c, 0);
  sq::ActivationStore acts(3, 16, c.hidden_size, SQ_DTYPE_F32);
  fill_hidden_states(acts, c.hidden_size, 40);
  sq::StageTimes times;
  const std::vector<float> ref =
      sq::BlockPasses(sq::default_cpu_backend(), c, w, acts, 16, times).hessian_of(sq::LinearGroup::QKV).matrix();
  HostDevice tight(uint64_t(32) << 20);
  {
    sq::BlockPasses passes(*tight.be, c, w, acts, 16, times);
    ASSERT_FALSE(passes.activations_on_device());
    // The Hessian (32 x 32 floats) is allocated at the first sequence's capture, with the second sequence's
    // upload queued: refusing it fails the pass there.
    tight.stats.fail_above = 3 << 10;
    EXPECT_THROW(passes.hessian_of(sq::LinearGroup::QKV), sq::Error);
    EXPECT_EQ(tight.stats.async_uploads, 2u);
    EXPECT_TRUE(tight.stats.pending.empty()) << "the queued upload was waited for";
    EXPECT_EQ(tight.stats.released_while_copying, 0u);
    tight.stats.fail_above = SIZE_MAX;
    EXPECT_EQ(passes.hessian_of(sq::LinearGroup::QKV).matrix(), ref);
  }
}

// Two consecutive blocks' passes (the QKV Hessian, then the outputs) over the same activation store, the way
// the job runs them; `resident` (nullable) carries the hidden states on the device between the blocks.
PassesResult run_two_blocks(sq::Backend& be, sq::ResidentActivations* resident, size_t* second_block_uploads = nullptr,
                            const sq::test::HostDeviceStats* stats = nullptr,
                            const std::function<void()>& between_blocks = {}) {
  const sq::ModelConfig c = sqtest::tiny_config();
  const auto src = sqtest::make_tiny_model(c, 33);
  sq::ActivationStore acts(3, 16, c.hidden_size, SQ_DTYPE_F32);
  fill_hidden_states(acts, c.hidden_size, 50);
  sq::StageTimes times;
  PassesResult r;
  for (int64_t block = 0; block < 2; ++block) {
    if (block == 1 && between_blocks) between_blocks();
    const sq::BlockWeights w = sq::load_block_weights(src, c, block);
    const size_t before = stats ? stats->uploads : 0;
    sq::BlockPasses passes(be, c, w, acts, 16, times, resident);
    if (block == 1 && second_block_uploads) *second_block_uploads = stats->uploads - before;
    r.resident = passes.activations_on_device();
    r.values.push_back(passes.hessian_of(sq::LinearGroup::QKV).matrix());
    passes.advance();
  }
  if (resident) resident->wait_for_host_copy();  // the second block's outputs may still be on their way
  append_hidden_states(acts, r.values);
  return r;
}

TEST(DeviceBlock, ActivationsStayOnTheDeviceFromOneBlockToTheNext) {
  const PassesResult ref = run_two_blocks(sq::default_cpu_backend(), nullptr);
  HostDevice streamed(uint64_t(1) << 30), kept(uint64_t(1) << 30);
  size_t uploads_streamed = 0, uploads_kept = 0;
  const PassesResult a = run_two_blocks(*streamed.be, nullptr, &uploads_streamed, &streamed.stats);
  sq::ResidentActivations resident;
  const PassesResult b = run_two_blocks(*kept.be, &resident, &uploads_kept, &kept.stats);
  EXPECT_TRUE(a.resident && b.resident);
  ASSERT_NE(resident.buffer, nullptr) << "the second block's outputs stay for a third";
  resident.buffer.reset();
  // The second block uploads its weights either way; only the first run uploads the 3 hidden states again.
  EXPECT_EQ(uploads_streamed, uploads_kept + 3);
  ASSERT_EQ(b.values.size(), ref.values.size());
  for (size_t i = 0; i < ref.values.size(); ++i) {
    EXPECT_EQ(b.values[i], a.values[i]) << "value " << i;
    EXPECT_LT(sqtest::relative_error(b.values[i], ref.values[i]), 1e-5) << "value " << i;
  }
}

TEST(DeviceBlock, LeftoverActivationsOfTheWrongShapeAreNotUsed) {
  HostDevice dev(uint64_t(1) << 30), plain(uint64_t(1) << 30);
  const PassesResult ref = run_two_blocks(*plain.be, nullptr);
  sq::ResidentActivations resident;
  resident.buffer = std::make_unique<sq::DeviceBuffer>(dev.be->device()->memory, 1000, "a stale buffer");
  const PassesResult out = run_two_blocks(*dev.be, &resident);
  resident.buffer.reset();
  EXPECT_EQ(out.values, ref.values);
  // A budget that holds the block but not the activations beside the quantizers' reserve: nothing stays.
  HostDevice tight(uint64_t(32) << 20);
  sq::ResidentActivations none;
  EXPECT_EQ(run_two_blocks(*tight.be, &none).values.size(), ref.values.size());
  EXPECT_EQ(none.buffer, nullptr);
}

TEST(DeviceBlock, ABlockThatCannotKeepTheActivationsWaitsForTheirHostCopy) {
  // Block 0 leaves its outputs on the device with their host copy in flight (the stand-in lands it only when
  // waited for); block 1 gets a budget too small to keep them, so it must wait for the copy and stream the
  // hidden states from the host store.
  HostDevice plain(uint64_t(1) << 30), dev(uint64_t(1) << 30);
  const PassesResult ref = run_two_blocks(*plain.be, nullptr);
  sq::ResidentActivations resident;
  size_t pending = 0;
  const PassesResult out = run_two_blocks(*dev.be, &resident, nullptr, nullptr, [&] {
    pending = dev.stats.pending.size();
    dev.be->device()->memory.set_budget(uint64_t(32) << 20);
  });
  EXPECT_EQ(pending, 3u) << "block 0's three sequences were still being copied";
  EXPECT_FALSE(out.resident);
  EXPECT_EQ(resident.buffer, nullptr);
  EXPECT_EQ(dev.stats.released_while_copying, 0u);
  EXPECT_EQ(out.values, ref.values);
}

TEST(DeviceBlock, JobRunsItsPassesOnTheDevice) {
  // The whole tiny GPTQ job on the device path gives the CPU's layers; the Hessian SYRKs never reach the
  // host-pointer SYRK (which would upload activations), so uploads stay at weights + hidden states + tiles.
  HostDevice dev(uint64_t(1) << 30);
  const auto ref = sqtest::tiny_gptq_job(sq::default_cpu_backend());
  const auto out = sqtest::tiny_gptq_job(*dev.be);
  ASSERT_EQ(ref.size(), out.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_LT(sqtest::relative_error(out[i], ref[i]), 1e-3) << "layer " << i;
}

// --gpu-matmul bf16 on a whole block: the stand-in rounds the GEMMs' inputs to bf16 for real, so the block's
// outputs and Hessians move from the fp32 forward, by about bf16's rounding (2^-9 relative) compounded over the
// block. tests/cuda checks a GPU against the same bound.
TEST(DeviceBlock, Bf16GemmInputsKeepTheBlockWithinBf16RoundingOfTheFp32Forward) {
  const sq::ModelConfig c = sqtest::tiny_config("LlamaForCausalLM", 8, 2);
  HostDevice dev(uint64_t(1) << 30);
  dev.be->set_forward_matmul(sq::MatmulInputs::BF16);
  const auto p = sqtest::device_block_parity(*dev.be, c, 300, 320, 12);
  std::printf("bf16 block: outputs %.3g, Hessians %.3g %.3g %.3g %.3g\n", p.hidden, p.hessian[0], p.hessian[1],
              p.hessian[2], p.hessian[3]);
  EXPECT_GT(p.hidden, 1e-3) << "the inputs were not rounded";
  EXPECT_LT(p.hidden, sqtest::kBf16BlockTolerance);
  EXPECT_GT(p.hessian[size_t(sq::LinearGroup::Down)], 1e-4) << "the Hessian's inputs did not move";
  for (double e : p.hessian) EXPECT_LT(e, sqtest::kBf16BlockTolerance);
  dev.be->set_forward_matmul(sq::MatmulInputs::FP32);
  EXPECT_LT(sqtest::device_block_parity(*dev.be, c, 300, 320, 12).hidden, 1e-5) << "fp32 restored";
}

}  // namespace
