#include "pipeline/block_passes.hpp"

#include <vector>

#include "backend/device_api.hpp"
#include "model/device_block.hpp"
#include "pipeline/device_hessian.hpp"
#include "util/error.hpp"

namespace sq {

struct BlockPasses::Device {
  Device(DeviceHandle& dev, const ModelConfig& cfg, const BlockWeights& w, const RopeTables& rope, int64_t seq)
      : handle(dev), block(dev, cfg, w, rope, seq) {}
  DeviceHandle& handle;
  DeviceBlock block;
};

BlockPasses::BlockPasses(Backend& be, const ModelConfig& cfg, const BlockWeights& w, ActivationStore& acts,
                         int64_t seq_len, StageTimes& times)
    : be_(be), cfg_(cfg), w_(w), acts_(acts), seq_(seq_len), times_(times), rope_(make_rope_tables(cfg, seq_len)) {
  if (DeviceHandle* dev = be.device()) {
    StageTimer t(times_.load);  // the upload of the block's weights
    device_ = std::make_unique<Device>(*dev, cfg, w, rope_, seq_len);
  }
}

BlockPasses::~BlockPasses() = default;

bool BlockPasses::on_device() const { return device_ != nullptr; }

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
      for (int64_t s = 0; s < acts_.samples(); ++s) {
        acts_.get(s, hidden.data());
        device_->block.forward(hidden.data(), seq_, &capture, group);
      }
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
    for (int64_t s = 0; s < acts_.samples(); ++s) {
      acts_.get(s, hidden.data());
      block_forward(be_, cfg_, w_, rope_, hidden.data(), seq_, &capture, group);
    }
  }
  if (!acc) throw_error(SQ_ERR_INTERNAL, "the forward pass never captured a linear group's input");
  times_.forward += total - hessian;
  times_.hessian += hessian;
  return std::move(*acc);
}

void BlockPasses::weight_changed(const std::string& name) {
  if (device_) device_->block.update_linear(name, w_.linear(name));
}

void BlockPasses::advance() {
  StageTimer t(times_.forward);
  std::vector<float> hidden(size_t(acts_.sample_floats()));
  for (int64_t s = 0; s < acts_.samples(); ++s) {
    acts_.get(s, hidden.data());
    if (device_) device_->block.forward(hidden.data(), seq_);
    else block_forward(be_, cfg_, w_, rope_, hidden.data(), seq_);
    acts_.put(s, hidden.data());
  }
}

}  // namespace sq
