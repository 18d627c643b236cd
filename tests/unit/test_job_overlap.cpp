// The job's overlap of host and device work, over the host stand-in device (whose asynchronous copies land
// only when waited for, so a missing wait reads stale activations): a block's outputs are copied into the
// pinned host store while the next block runs, hidden states that do not stay on the device stream through
// two buffers, and the next block's weights are read on a second thread.
// Checked: the layers equal the CPU's and a run without the overlap, a checkpoint saved mid-job resumes to
// the same layers, a failed step can be run again, and a missing tensor in a read-ahead block is reported at
// that block's step, naming the tensor.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend_parity.hpp"
#include "host_device_api.hpp"
#include "io/model_files.hpp"
#include "pipeline/job.hpp"
#include "test_files.hpp"
#include "tiny_model.hpp"
#include "util/error.hpp"

namespace {

using Layers = std::vector<std::vector<float>>;

struct HostDevice : sq::test::HostDeviceBackend {
  explicit HostDevice(uint64_t budget = uint64_t(1) << 30) : HostDeviceBackend(budget) {}
  ~HostDevice() {
    EXPECT_EQ(stats.live_bytes, 0u) << "device memory leaked";
    EXPECT_EQ(stats.pinned_live, 0u) << "pinned host memory leaked";
    EXPECT_EQ(stats.released_while_copying, 0u) << "device memory released under a pending copy";
    EXPECT_TRUE(stats.pending.empty()) << "a copy was never waited for";
  }
};

// A four-block tiny model (so the hidden states pass three block boundaries); `drop` removes one tensor.
sq::ModelFiles four_blocks(const std::string& drop = "") {
  sq::ModelConfig cfg = sqtest::tiny_config();
  cfg.num_hidden_layers = 4;
  sqtest::MemorySource full = sqtest::make_tiny_model(cfg, 61);
  auto source = std::make_unique<sqtest::MemorySource>();
  for (size_t i = 0; i < full.tensors().size(); ++i) {
    const sq::TensorDesc& t = full.tensors()[i];
    if (t.name == drop) continue;
    std::vector<float> v(t.numel());
    full.read_f32(i, v.data());
    source->add(t.name, t.shape, v);
  }
  sq::ModelFiles m;
  m.path = "memory";
  m.config = cfg;
  m.weights = std::move(source);
  return m;
}

void configure(sq::Job& job, sq::DType acts = SQ_DTYPE_F32, const std::string& checkpoint = "", bool resume = false) {
  sqtest::configure_tiny_gptq(job, 3, 16);
  job.options().activation_dtype = acts;
  job.options().checkpoint_dir = checkpoint;
  job.options().resume = resume;
}

Layers run_job(sq::Backend& be, sq::DType acts = SQ_DTYPE_F32) {
  const sq::ModelFiles m = four_blocks();
  sq::Logger log;
  sq::Job job(be, log, m);
  configure(job, acts);
  Layers out;
  job.set_layer_sink([&](const std::string&, const sq::QuantizedLayer& l) { out.push_back(l.dequant); });
  job.run();
  return out;
}

void expect_close(const Layers& out, const Layers& ref, double tol, const char* what) {
  ASSERT_EQ(out.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    EXPECT_LT(sqtest::relative_error(out[i], ref[i]), tol) << what << ", layer " << i;
}

TEST(JobOverlap, OverlappedCopiesGiveTheCpuLayersAndTheSynchronousRunsBits) {
  const Layers cpu = run_job(sq::default_cpu_backend());
  HostDevice overlapped, refused;
  refused.stats.refuse_pinned = true;  // ordinary memory: the same copies, queued the same way
  const Layers out = run_job(*overlapped.be);
  EXPECT_EQ(overlapped.stats.async_downloads, 3u * 3u) << "3 sequences after each of the first 3 blocks";
  expect_close(out, cpu, 1e-3, "fp32");
  EXPECT_EQ(run_job(*refused.be), out);
  // A budget that holds a block but not the hidden states: each sequence streams from the store and back, in
  // place, through two device buffers (the stand-in poisons an upload's buffer until a kernel waits for it).
  HostDevice streamed(uint64_t(32) << 20);
  EXPECT_EQ(run_job(*streamed.be), out);
  EXPECT_EQ(streamed.stats.async_uploads, 3u * (4u * 4u + 3u)) << "3 sequences, 4 Hessian passes per block, 3 advances";
  EXPECT_EQ(streamed.stats.async_downloads, 3u * 3u) << "3 sequences after each of the first 3 blocks";
  EXPECT_GE(streamed.stats.kernel_waits, streamed.stats.async_uploads);
  // bf16 activations are rounded on the host: those blocks' outputs come home synchronously. (Only block 0 is
  // compared with the CPU: a last-bit difference in a block's outputs can move a bf16 rounding by 2^-8, so the
  // later blocks' codes legitimately diverge.)
  HostDevice half;
  Layers bf16 = run_job(*half.be, SQ_DTYPE_BF16);
  EXPECT_EQ(half.stats.async_downloads, 0u);
  Layers bf16_cpu = run_job(sq::default_cpu_backend(), SQ_DTYPE_BF16);
  bf16.resize(7);
  bf16_cpu.resize(7);
  expect_close(bf16, bf16_cpu, 1e-3, "bf16, block 0");
}

TEST(JobOverlap, CheckpointSavedWhileTheCopyIsInFlightResumesToTheSameLayers) {
  HostDevice dev;
  const Layers whole = run_job(*dev.be);
  sqtest::TempDir tmp;
  const sq::ModelFiles m = four_blocks();
  sq::Logger log;
  Layers resumed;
  {
    sq::Job first(*dev.be, log, m);
    configure(first, SQ_DTYPE_F32, tmp.path());
    first.set_layer_sink([&](const std::string&, const sq::QuantizedLayer& l) { resumed.push_back(l.dequant); });
    EXPECT_FALSE(first.step());
    EXPECT_FALSE(first.step());  // stopped here: the checkpoint holds block 2's inputs
  }
  sq::Job second(*dev.be, log, m);
  configure(second, SQ_DTYPE_F32, tmp.path(), true);
  second.set_layer_sink([&](const std::string&, const sq::QuantizedLayer& l) { resumed.push_back(l.dequant); });
  second.run();
  EXPECT_EQ(resumed, whole);
}

TEST(JobOverlap, AStepThatFailedCanBeRunAgain) {
  for (const bool device : {false, true}) {
    HostDevice dev;
    sq::Backend& be = device ? *dev.be : sq::default_cpu_backend();
    const Layers whole = run_job(be);
    const sq::ModelFiles m = four_blocks();
    sq::Logger log;
    sq::Job job(be, log, m);
    configure(job);
    Layers out;
    bool fail_once = true;
    job.set_layer_sink([&](const std::string&, const sq::QuantizedLayer& l) {
      // The last layer of block 1: after its passes, before its advance(), with block 0's copy in flight.
      if (out.size() == 13 && fail_once) {
        fail_once = false;
        throw sq::Error(SQ_ERR_IO, "the sink is full");
      }
      out.push_back(l.dequant);
    });
    EXPECT_FALSE(job.step());
    EXPECT_THROW(job.step(), sq::Error);
    EXPECT_EQ(job.blocks_done(), 1);
    out.resize(7);  // block 1 again
    job.run();
    EXPECT_EQ(out, whole) << (device ? "device" : "cpu");
  }
}

TEST(JobOverlap, AMissingTensorInTheReadAheadBlockFailsThatBlocksStep) {
  const std::string missing = "model.layers.2.mlp.down_proj.weight";
  for (const bool device : {false, true}) {
    HostDevice dev;
    sq::Backend& be = device ? *dev.be : sq::default_cpu_backend();
    const sq::ModelFiles m = four_blocks(missing);
    sq::Logger log;
    sq::Job job(be, log, m);
    configure(job);
    EXPECT_FALSE(job.step());
    EXPECT_FALSE(job.step());  // block 1 reads block 2 ahead on a device backend: its failure waits for block 2
    try {
      job.step();
      ADD_FAILURE() << "block 2 has no " << missing;
    } catch (const sq::Error& e) {
      EXPECT_EQ(e.code(), SQ_ERR_NOT_FOUND);
      EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
    EXPECT_EQ(job.blocks_done(), 2);
  }
}

}  // namespace
