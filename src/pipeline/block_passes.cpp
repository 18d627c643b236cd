#include "pipeline/block_passes.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <vector>

#include "backend/device_api.hpp"
#include "model/device_block.hpp"
#include "pipeline/device_hessian.hpp"
#include "util/error.hpp"
#include "util/system_memory.hpp"

namespace sq {

namespace {

// The widest linear input of a block (its Hessian's order): hidden, intermediate or the attention output.
uint64_t max_in_features(const ModelConfig& cfg) {
  return uint64_t(std::max({cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads * cfg.head_dim}));
}

// Device memory a pass allocates beside the block: its Hessian, the largest when it is the MLP input's.
uint64_t pass_reserve(const ModelConfig& cfg) {
  const uint64_t max_in = max_in_features(cfg);
  return DeviceMemory::rounded(max_in * max_in * sizeof(float));
}

}  // namespace

uint64_t quantizer_reserve(const ModelConfig& cfg) {
  const uint64_t h = uint64_t(cfg.hidden_size), inter = uint64_t(cfg.intermediate_size);
  const uint64_t q_dim = uint64_t(cfg.num_attention_heads * cfg.head_dim);
  const uint64_t max_in = max_in_features(cfg);
  const uint64_t max_weights = std::max({q_dim * h, inter * h});
  return 2 * max_in * max_in * sizeof(float) + max_weights * (sizeof(float) + 1) + (uint64_t(64) << 20);
}

void ResidentActivations::wait_for_host_copy() {
  if (!copying_) return;
  DeviceHandle& dev = *copying_;
  copying_ = nullptr;
  std::lock_guard<std::mutex> lock(dev.mutex);
  dev.api.wait_copies();
}

void ResidentActivations::release() noexcept {
  try {
    wait_for_host_copy();
  } catch (...) {
    // Already failing (or done): the host copy is not needed any more, the memory must still be given back.
  }
  buffer.reset();
}

struct BlockPasses::Device {
  Device(DeviceHandle& dev, const ModelConfig& cfg, const BlockWeights& w, const RopeTables& rope, int64_t seq)
      : handle(dev), block(dev, cfg, w, rope, seq) {}
  DeviceHandle& handle;
  DeviceBlock block;
  // Every sequence's hidden state, kept on the device for the block's passes when the budget holds it with
  // room for the quantizers; otherwise (null) each pass uploads and downloads one sequence at a time. Either
  // this block's own allocation (own_acts) or the previous block's outputs, still owned by ResidentActivations.
  DeviceBuffer* acts = nullptr;
  std::unique_ptr<DeviceBuffer> own_acts;
  float* sequence(int64_t s, int64_t floats) const { return acts->f32() + s * floats; }

  // Every sequence's checkpoint, when the passes run on the resident hidden states (checkpoint_memory).
  std::unique_ptr<DeviceBuffer> checkpoints;
};

BlockPasses::BlockPasses(Backend& be, const ModelConfig& cfg, const BlockWeights& w, ActivationStore& acts,
                         int64_t seq_len, StageTimes& times, ResidentActivations* resident)
    : be_(be), cfg_(cfg), w_(w), acts_(acts), seq_(seq_len), times_(times), rope_(make_rope_tables(cfg, seq_len)),
      resident_(resident) {
  if (DeviceHandle* dev = be.device()) {
    StageTimer t(times_.load);  // uploading the block (and the activations, when they stay on the device)
    const int64_t floats = acts.sample_floats();
    const uint64_t bytes = uint64_t(acts.samples()) * uint64_t(floats) * sizeof(float);
    // The previous block's outputs, still on the device: kept when this block and the quantizers' reserve fit
    // beside them (the block's allocation must not fail for their sake), else released (the host has them,
    // once their copy has landed).
    bool keep = false;
    if (resident_ && resident_->buffer) {
      keep = resident_->buffer->bytes() == bytes &&
             DeviceBlock::min_bytes(cfg, w, seq_len) + quantizer_reserve(cfg) <= dev->memory.available();
      if (!keep) {
        resident_->wait_for_host_copy();
        resident_->buffer.reset();
      }
    }
    device_ = std::make_unique<Device>(*dev, cfg, w, rope_, seq_len);
    if (keep) {
      device_->acts = resident_->buffer.get();
    } else if (DeviceMemory::rounded(bytes) + quantizer_reserve(cfg) <= dev->memory.available()) {
      device_->own_acts = std::make_unique<DeviceBuffer>(dev->memory, bytes, "the calibration activations");
      device_->acts = device_->own_acts.get();
      std::vector<float> hidden(static_cast<size_t>(floats));
      std::lock_guard<std::mutex> lock(dev->mutex);
      for (int64_t s = 0; s < acts.samples(); ++s) {
        acts.get(s, hidden.data());
        const size_t b = hidden.size() * sizeof(float);
        dev->api.upload(device_->sequence(s, floats), b, hidden.data(), b, b, 1);
      }
    }
  }
}

BlockPasses::~BlockPasses() = default;

bool BlockPasses::on_device() const { return device_ != nullptr; }

bool BlockPasses::activations_on_device() const { return device_ && device_->acts; }

HessianAccumulator BlockPasses::hessian_of(LinearGroup group) {
  std::vector<float> hidden(size_t(acts_.sample_floats()));
  if (device_) {
    // Kernels run asynchronously: synchronizing around each accumulation splits the time honestly
    // between the forward pass and the Hessian (at the cost of one idle gap per sequence).
    std::unique_ptr<DeviceHessian> acc;
    double hessian = 0, total = 0;
    const DeviceCaptureFn capture = [&](LinearGroup g, const float* x, int64_t tokens, int64_t in_features) {
      if (g != group) return;
      device_->handle.api.synchronize();
      StageTimer t(hessian);
      if (!acc) acc = std::make_unique<DeviceHessian>(device_->handle, in_features);
      acc->add(x, tokens, 1);
      device_->handle.api.synchronize();
    };
    {
      StageTimer t(total);
      const PassCheckpoint ck = plan_.plan(group, [&] { return checkpoint_memory(); });
      plan_.pass_starting(ck);
      const auto pass = [&](float* x) { device_->block.forward_on_device(x, seq_, &capture, group); };
      if (device_->acts) {
        for (int64_t s = 0; s < acts_.samples(); ++s) {
          const PassCheckpoint seq_ck = checkpoint_of(ck, s);
          device_->block.forward_on_device(device_->sequence(s, acts_.sample_floats()), seq_, &capture, group,
                                           &seq_ck);
        }
      } else if (!stream_double_buffered(false, pass)) {
        // The pass stops at the capture, so nothing is written back.
        for (int64_t s = 0; s < acts_.samples(); ++s)
          device_->block.forward(host_sequence(s, hidden), seq_, &capture, group);
      }
      plan_.pass_finished(ck);
    }
    if (!acc) throw_error(SQ_ERR_INTERNAL, "the device forward pass never captured a linear group's input");
    StageTimer t(hessian);
    HessianAccumulator h = acc->download();
    times_.forward += total - hessian;
    times_.hessian += hessian;
    return h;
  }
  std::unique_ptr<HessianAccumulator> acc;
  double hessian = 0, total = 0;
  const CaptureFn capture = [&](LinearGroup g, const float* x, int64_t tokens, int64_t in_features) {
    if (g != group) return;
    if (!acc) acc = std::make_unique<HessianAccumulator>(in_features);
    StageTimer t(hessian);
    acc->add(be_, x, tokens, 1);
  };
  {
    StageTimer t(total);
    const PassCheckpoint ck = plan_.plan(group, [&] { return checkpoint_memory(); });
    plan_.pass_starting(ck);
    for (int64_t s = 0; s < acts_.samples(); ++s) {
      const PassCheckpoint seq_ck = checkpoint_of(ck, s);
      if (ck.load != BlockPoint::Residual) acts_.get(s, hidden.data());
      block_forward(be_, cfg_, w_, rope_, hidden.data(), seq_, &capture, group, &seq_ck);
    }
    plan_.pass_finished(ck);
  }
  if (!acc) throw_error(SQ_ERR_INTERNAL, "the forward pass never captured a linear group's input");
  times_.forward += total - hessian;
  times_.hessian += hessian;
  return std::move(*acc);
}

void BlockPasses::weight_changed(const std::string& name) {
  plan_.weight_changed(name);
  if (device_) device_->block.update_linear(name, w_.linear(name));
}

bool BlockPasses::checkpoints_held() const { return plan_.held() != BlockPoint::Input; }

void BlockPasses::allow_checkpoints(bool allowed) {
  checkpoints_allowed_ = allowed;
  if (allowed) return;
  plan_.clear();
  release_checkpoints();
}

bool BlockPasses::checkpoint_memory() {
  if (!checkpoints_allowed_) return false;
  const int64_t floats = checkpoint_floats(cfg_, seq_);
  const uint64_t bytes = uint64_t(acts_.samples()) * uint64_t(floats) * sizeof(float);
  if (device_) {
    if (device_->checkpoints) return true;
    // Only beside resident hidden states (streamed ones mean the budget is short already), and never at the
    // expense of the quantizers.
    if (!device_->acts || DeviceMemory::rounded(bytes) + quantizer_reserve(cfg_) > device_->handle.memory.available())
      return false;
    device_->checkpoints =
        std::make_unique<DeviceBuffer>(device_->handle.memory, bytes, "the calibration passes' checkpoints");
    return true;
  }
  if (!host_checkpoints_.empty()) return true;
  // As much memory again as an fp32 activation store: taken when it is a small part of what the system has free.
  if (bytes > available_host_memory() / 4) return false;
  host_checkpoints_.resize(size_t(bytes / sizeof(float)));
  return true;
}

PassCheckpoint BlockPasses::checkpoint_of(PassCheckpoint ck, int64_t s) {
  float* base = device_ && device_->checkpoints ? device_->checkpoints->f32() : nullptr;
  if (!host_checkpoints_.empty()) base = host_checkpoints_.data();
  if (base) ck.data = base + s * checkpoint_floats(cfg_, seq_);
  return ck;
}

void BlockPasses::release_checkpoints() {
  if (device_) device_->checkpoints.reset();
  host_checkpoints_ = {};
}

void BlockPasses::advance() {
  StageTimer t(times_.forward);
  std::vector<float> hidden;  // a host sequence, where the values cannot be used in place
  if (device_ && device_->acts) {  // run every sequence in place, then bring the outputs home for the next block
    if (resident_) resident_->wait_for_host_copy();  // the previous block's copy still reads these inputs
    const int64_t floats = acts_.sample_floats();
    const size_t b = size_t(floats) * sizeof(float);
    const PassCheckpoint ck = plan_.plan(std::nullopt, [] { return false; });
    for (int64_t s = 0; s < acts_.samples(); ++s) {
      const PassCheckpoint seq_ck = checkpoint_of(ck, s);
      device_->block.forward_on_device(device_->sequence(s, floats), seq_, nullptr, std::nullopt, &seq_ck);
    }
    // The block's inputs are overwritten by its outputs: the checkpoints continue nothing any more.
    plan_.clear();
    release_checkpoints();
    if (resident_ && device_->own_acts) resident_->buffer = std::move(device_->own_acts);
    std::lock_guard<std::mutex> lock(device_->handle.mutex);
    if (resident_ && acts_.f32_sample(0)) {  // the next block's inputs stay in place; the host copy overlaps
      for (int64_t s = 0; s < acts_.samples(); ++s)
        device_->handle.api.download_async(acts_.f32_sample(s), device_->sequence(s, floats), b);
      resident_->copying_ = &device_->handle;
      return;
    }
    hidden.resize(size_t(floats));
    for (int64_t s = 0; s < acts_.samples(); ++s) {
      device_->handle.api.download(hidden.data(), b, device_->sequence(s, floats), b, b, 1);
      acts_.put(s, hidden.data());
    }
    return;
  }
  hidden.resize(size_t(acts_.sample_floats()));
  const PassCheckpoint ck = plan_.plan(std::nullopt, [] { return false; });
  const auto pass = [&](float* x) { device_->block.forward_on_device(x, seq_); };
  if (!device_ || !stream_double_buffered(true, pass)) {
    for (int64_t s = 0; s < acts_.samples(); ++s) {
      if (device_) {  // synchronous copies: an fp16/bf16 store, or no room for two device buffers
        float* x = host_sequence(s, hidden);
        device_->block.forward(x, seq_);
        if (x == hidden.data()) acts_.put(s, x);
        continue;
      }
      const PassCheckpoint seq_ck = checkpoint_of(ck, s);
      if (ck.load != BlockPoint::Residual) acts_.get(s, hidden.data());
      block_forward(be_, cfg_, w_, rope_, hidden.data(), seq_, nullptr, std::nullopt, &seq_ck);
      acts_.put(s, hidden.data());
    }
  }
  plan_.clear();
  release_checkpoints();
}

namespace {

// Two device buffers of one sequence each. Released only after every copy queued into or out of them (and out
// of or into the host store) has finished, also on the way out of a failed pass.
struct SequenceStaging {
  SequenceStaging(DeviceHandle& dev, uint64_t bytes) : dev(dev) {
    for (auto& b : buffer) b = std::make_unique<DeviceBuffer>(dev.memory, bytes, "the streamed calibration sequences");
  }
  ~SequenceStaging() {
    try {
      std::lock_guard<std::mutex> lock(dev.mutex);
      dev.api.wait_copies();
    } catch (...) {
      // Already failing: the copies' error is the lesser one; the memory must still be given back after them.
    }
  }
  DeviceHandle& dev;
  std::unique_ptr<DeviceBuffer> buffer[2];
};

}  // namespace

bool BlockPasses::stream_double_buffered(bool write_back, const std::function<void(float*)>& pass) {
  const int64_t n = acts_.samples();
  const uint64_t bytes = uint64_t(acts_.sample_floats()) * sizeof(float);
  DeviceHandle& dev = device_->handle;
  // The store must be fp32 (the device copies straight from and into it) and the two buffers must leave room
  // for what the pass allocates (they are released before the quantizers run).
  if (n == 0 || !acts_.f32_sample(0) || 2 * DeviceMemory::rounded(bytes) + pass_reserve(cfg_) > dev.memory.available())
    return false;
  SequenceStaging staging(dev, bytes);
  auto buffer = [&](int64_t s) { return staging.buffer[s % 2]->f32(); };
  {
    std::lock_guard<std::mutex> lock(dev.mutex);
    dev.api.upload_async(buffer(0), acts_.f32_sample(0), bytes);
  }
  for (int64_t s = 0; s < n; ++s) {
    {
      std::lock_guard<std::mutex> lock(dev.mutex);
      // Sequence s has landed. Sequence s - 1's pass is issued: its output leaves, then sequence s + 1 comes into
      // the same buffer (the copies run in order), both while sequence s computes.
      dev.api.kernels_wait_copies();
      if (write_back && s > 0) dev.api.download_async(acts_.f32_sample(s - 1), buffer(s - 1), bytes);
      if (s + 1 < n) dev.api.upload_async(buffer(s + 1), acts_.f32_sample(s + 1), bytes);
    }
    pass(buffer(s));
  }
  std::lock_guard<std::mutex> lock(dev.mutex);
  if (write_back) dev.api.download_async(acts_.f32_sample(n - 1), buffer(n - 1), bytes);
  dev.api.wait_copies();
  return true;
}

float* BlockPasses::host_sequence(int64_t s, std::vector<float>& scratch) {
  if (float* x = acts_.f32_sample(s)) return x;
  acts_.get(s, scratch.data());
  return scratch.data();
}

}  // namespace sq
