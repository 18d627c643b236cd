// The calibration passes through one block that a true-sequential quantizer needs: the inputs of each
// linear group in turn (as that group's Hessian, with the groups before it already quantized), then the
// block's outputs for the next block. On a host backend the passes run block_forward; on a device backend
// the block stays resident on the device (model/device_block.hpp) and the Hessians are accumulated there,
// so the only traffic is the hidden states: when they fit the budget, uploaded for the first block only
// (they stay on the device from one block to the next, ResidentActivations) and downloaded after each block
// (the host store is what the resume checkpoint saves); otherwise streamed once per pass, through two device
// buffers so the copies overlap with the compute. Each pass also leaves its sequences' state where the next
// pass can pick it up (the attention output, then the residual after attention: PassCheckpointPlan), so a
// pass recomputes only what the layers quantized since have changed; on the device when the hidden states are
// resident and the budget holds the checkpoints too, on the host when they take at most a quarter of the
// memory the system has available. Checkpoints change no result.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/offload/device_memory.hpp"
#include "io/model_config.hpp"
#include "model/llama_block.hpp"
#include "pipeline/activations.hpp"
#include "pipeline/hessian.hpp"
#include "pipeline/pass_checkpoints.hpp"
#include "pipeline/stage_times.hpp"

namespace sq {

// Device memory the quantizers may need after the passes (the largest layer: its Hessian and Cholesky factor,
// or W, U and the codes of the device GPTQ sweep), kept free when deciding whether the activations, and the
// passes' checkpoints, stay on the device.
uint64_t quantizer_reserve(const ModelConfig& cfg);

// The calibration hidden states on the device between two blocks' passes: the outputs of the last block
// passed, which are the next block's inputs. The host ActivationStore receives the same values through a copy
// that advance() queues and does not wait for (it overlaps with the spool write, the next block's weight upload
// and its first passes): the store may be read, and `buffer` overwritten or released, only after
// wait_for_host_copy(). BlockPasses and the job do so.
class ResidentActivations {
 public:
  ResidentActivations() = default;
  ~ResidentActivations() { release(); }
  ResidentActivations(const ResidentActivations&) = delete;
  ResidentActivations& operator=(const ResidentActivations&) = delete;

  // Returns once the host store holds the values (at once when no copy is in flight). SQ_ERR_DEVICE when the
  // copy failed.
  void wait_for_host_copy();
  // Waits for the copy, then frees the buffer; on the way out of a failure, so a copy error is not reported.
  void release() noexcept;

  std::unique_ptr<DeviceBuffer> buffer;

 private:
  friend class BlockPasses;
  DeviceHandle* copying_ = nullptr;  // the device whose download into the host store may still run
};

class BlockPasses {
 public:
  // `w` and `acts` must outlive this object; forward and Hessian time are added to `times`. With `resident`
  // (device backends; nullable), hidden states left there by the previous block's advance() are used
  // instead of uploading `acts`, when the budget still holds them beside this block and the quantizers, and
  // advance() leaves this block's outputs there.
  BlockPasses(Backend& be, const ModelConfig& cfg, const BlockWeights& w, ActivationStore& acts, int64_t seq_len,
              StageTimes& times, ResidentActivations* resident = nullptr);
  ~BlockPasses();
  BlockPasses(const BlockPasses&) = delete;
  BlockPasses& operator=(const BlockPasses&) = delete;

  // Runs every calibration sequence up to `group` and returns the Hessian of its input.
  HessianAccumulator hessian_of(LinearGroup group);
  // Linear layer `name` of `w` has changed (been quantized): later passes must use its new values.
  void weight_changed(const std::string& name);
  // Runs every sequence through the whole block and stores the outputs as the next block's inputs. With
  // `resident` and an fp32 store, the copy into the store is queued, not waited for (ResidentActivations).
  void advance();
  // True when the passes run on the backend's device, and when the calibration activations stay there
  // between passes (the budget holds them with room left for the quantizers).
  bool on_device() const;
  bool activations_on_device() const;
  // True while a pass's checkpoints are valid for later passes (until a weight before them changes, or advance()).
  bool checkpoints_held() const;
  // false: every pass starts at the block's input, and checkpoint memory is released (for comparisons).
  void allow_checkpoints(bool allowed);

 private:
  struct Device;
  // Sequence s of the host store as fp32: in place when the store is fp32, else converted into `scratch`.
  float* host_sequence(int64_t s, std::vector<float>& scratch);
  // When the hidden states are not resident: runs `pass` on every sequence of an fp32 store in device memory, each
  // uploaded into one of two device buffers while the previous one computes, and with `write_back` downloaded
  // back in place while the next one computes. False, having done nothing, for an fp16/bf16 store or when the
  // budget cannot hold the two buffers beside the pass's Hessian: the caller then moves each sequence
  // synchronously.
  bool stream_double_buffered(bool write_back, const std::function<void(float*)>& pass);
  // The checkpoints' memory, allocated on first use when allowed and affordable (see above); false without.
  bool checkpoint_memory();
  // `ck` pointed at sequence s's checkpoint memory (null when none is allocated).
  PassCheckpoint checkpoint_of(PassCheckpoint ck, int64_t s);
  void release_checkpoints();
  Backend& be_;
  const ModelConfig& cfg_;
  const BlockWeights& w_;
  ActivationStore& acts_;
  int64_t seq_;
  StageTimes& times_;
  RopeTables rope_;
  ResidentActivations* resident_;
  std::unique_ptr<Device> device_;  // null on a host backend
  PassCheckpointPlan plan_;
  bool checkpoints_allowed_ = true;
  std::vector<float> host_checkpoints_;  // on a host backend: every sequence's, checkpoint_floats each
};

}  // namespace sq
