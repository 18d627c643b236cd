// The streaming quantization job (ARCHITECTURE.md, "The one path data takes"). For block i = 0 .. L-1:
//   load block i's weights; true-sequential over the groups QKV, O, GateUp, Down: run every calibration
//   sample through the block up to that group (capturing its input) to accumulate the group's Hessian,
//   quantize each layer of the group and put its dequantized weights back into the block; then run the
//   whole quantized block to produce block i+1's inputs; spool the block's layers to disk, hand them to
//   the sink, write the resume checkpoint (atomically), and drop the block.
// Memory: one block's weights, the activations, one group's Hessian and the quantizer's scratch.
//
// Data-free methods (RTN without act-order, HIGGS) skip the calibration and the forward passes: each linear
// weight is loaded, quantized and encoded on its own (memory: one weight and its quantized form).
//
// Resume: the work directory holds block_<i>.safetensors for finished blocks, activations_<i>.bin (the
// inputs of block i; absent for data-free methods) and state.json {fingerprint, next_block}. state.json is replaced last, so a crash at
// any point leaves a consistent checkpoint. A resumed run continues from bit-identical state, so its
// output equals an uninterrupted run's (same backend and thread count).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "backend/timing_backend.hpp"
#include "io/model_files.hpp"
#include "pipeline/activations.hpp"
#include "pipeline/block_passes.hpp"
#include "pipeline/calibration.hpp"
#include "pipeline/job_options.hpp"
#include "pipeline/stage_times.hpp"
#include "quant/quantized_layer.hpp"
#include "util/log.hpp"

namespace sq {

// Called after each block: (blocks done, block count, elapsed s, eta s); non-zero cancels the job.
using ProgressFn = std::function<int(int64_t done, int64_t total, double elapsed, double eta)>;
// Receives each quantized layer as soon as its block is done.
using LayerSinkFn = std::function<void(const std::string& prefix, const QuantizedLayer& layer)>;

class Job {
 public:
  Job(Backend& be, const Logger& log, const ModelFiles& model);
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  JobOptions& options() { return opts_; }
  const JobOptions& options() const { return opts_; }
  const ModelFiles& model() const { return model_; }
  const ModelConfig& config() const { return *model_.config; }

  // Calibration: exact samples, or a token stream cut by sample_calibration(nsamples, seqlen, seed).
  void set_calibration_samples(CalibrationSet set);
  void set_calibration_stream(std::vector<int32_t> stream, std::string source);
  // A token stream read only when the job starts and only if its method needs calibration (data-free
  // methods never tokenize it).
  void set_calibration_loader(std::function<std::vector<int32_t>()> load, std::string source);
  void set_progress(ProgressFn fn) { progress_ = std::move(fn); }
  void set_layer_sink(LayerSinkFn fn) { sink_ = std::move(fn); }

  // Quantize one block; returns true when every block is done. Options are frozen at the first step.
  bool step();
  void run();
  bool done() const { return started_ && next_block_ >= num_blocks(); }
  int64_t num_blocks() const { return config().num_hidden_layers; }
  int64_t blocks_done() const { return next_block_; }

  // Where finished blocks' layers are spooled (valid after the first step).
  const std::string& work_dir() const { return work_dir_; }
  // Wall time per stage over this run's blocks (write stays 0: the output is written outside the job).
  StageTimes stage_times() const;
  std::vector<std::string> spool_files() const;

 private:
  void start();
  void prepare_calibration();
  void quantize_block(int64_t block);
  // Block `block`'s weights: the ones read ahead while the previous block was quantized, or read now. On a
  // device backend, the next block's are then read ahead on a second thread (the host's mmap read and fp32
  // conversion overlap with the device's work).
  BlockWeights take_block_weights(int64_t block);
  // Data-free methods: each linear weight of the block is loaded, quantized, encoded and dropped in turn;
  // no calibration, activations or forward pass (job_data_free.cpp).
  void quantize_block_data_free(int64_t block);
  void save_checkpoint();
  std::string fingerprint() const;

  TimingBackend timed_;  // the caller's backend, with its Cholesky time measured
  Backend& be_;          // = timed_
  StageTimes times_;
  double quantize_seconds_ = 0;  // quantizers in total, Cholesky included
  const Logger& log_;
  const ModelFiles& model_;
  JobOptions opts_;
  std::optional<CalibrationSet> calib_;
  std::vector<int32_t> stream_;
  std::string stream_source_;
  std::function<std::vector<int32_t>()> stream_loader_;
  bool data_free_ = false;  // decided at start from the options
  ProgressFn progress_;
  LayerSinkFn sink_;

  bool started_ = false;
  int64_t next_block_ = 0;
  int64_t first_block_this_run_ = 0;
  std::string work_dir_;
  bool own_work_dir_ = false;
  std::unique_ptr<ActivationStore> acts_;
  ResidentActivations resident_acts_;  // on a device backend: acts_ as the last block left them on the device
  std::chrono::steady_clock::time_point t0_;
  std::future<BlockWeights> read_ahead_;  // the weights of block read_ahead_block_, being read
  int64_t read_ahead_block_ = -1;
};

}  // namespace sq
