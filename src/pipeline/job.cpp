#include "pipeline/job.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>

#include <nlohmann/json.hpp>

#include "model/llama_block.hpp"
#include "pipeline/bit_plan.hpp"
#include "pipeline/block_passes.hpp"
#include "pipeline/hessian.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/quantize_call.hpp"
#include "pipeline/spool.hpp"
#include "util/atomic_output.hpp"
#include "util/dtype.hpp"
#include "util/error.hpp"

namespace sq {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "state.json";
constexpr LinearGroup kGroupOrder[] = {LinearGroup::QKV, LinearGroup::O, LinearGroup::GateUp, LinearGroup::Down};

struct Fnv1a {
  uint64_t h = 1469598103934665603ull;
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void add(const std::string& s) {
    add(s.data(), s.size());
    add("\0", 1);
  }
};

std::string activations_path(const std::string& dir, int64_t block) {
  char name[64];
  std::snprintf(name, sizeof name, "activations_%05lld.bin", static_cast<long long>(block));
  return dir + "/" + name;
}

std::string make_private_dir() {
  std::string templ = (fs::temp_directory_path() / "streamquant-job-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw_error(SQ_ERR_IO, "cannot create a temporary work directory under '", fs::temp_directory_path().string(), "'");
  return templ;
}

// Remove what an earlier (different) run left in a checkpoint directory; other files are left alone.
void clear_checkpoint(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n == kStateFile || n.rfind("block_", 0) == 0 || n.rfind("activations_", 0) == 0) fs::remove(e.path(), ec);
  }
}

}  // namespace

Job::Job(Backend& be, const Logger& log, const ModelFiles& model)
    : timed_(be), be_(timed_), log_(log), model_(model) {
  if (!model_.config)
    throw_error(SQ_ERR_INVALID_ARGUMENT, "model '", model_.path,
                "' has no config.json: quantization needs the architecture description");
  if (!model_.weights) throw_error(SQ_ERR_INVALID_ARGUMENT, "model '", model_.path, "' has no weights");
}

Job::~Job() {
  if (own_work_dir_) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }
}

void Job::set_calibration_samples(CalibrationSet set) {
  if (started_) throw_error(SQ_ERR_STATE, "calibration data must be set before the job's first step");
  calib_ = std::move(set);
  stream_.clear();
  stream_loader_ = nullptr;
}

void Job::set_calibration_stream(std::vector<int32_t> stream, std::string source) {
  if (started_) throw_error(SQ_ERR_STATE, "calibration data must be set before the job's first step");
  stream_ = std::move(stream);
  stream_source_ = std::move(source);
  stream_loader_ = nullptr;
  calib_.reset();
}

void Job::set_calibration_loader(std::function<std::vector<int32_t>()> load, std::string source) {
  if (started_) throw_error(SQ_ERR_STATE, "calibration data must be set before the job's first step");
  stream_loader_ = std::move(load);
  stream_source_ = std::move(source);
  stream_.clear();
  calib_.reset();
}

std::vector<std::string> Job::spool_files() const {
  std::vector<std::string> out;
  for (int64_t i = 0; i < next_block_; ++i) out.push_back(spool_block_path(work_dir_, i));
  return out;
}

std::string Job::fingerprint() const {
  Fnv1a f;
  f.add(std::to_string(kSqFormatVersion));
  f.add(config().raw.dump());
  const auto& tensors = model_.weights->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorDesc& t = tensors[i];
    f.add(t.name);
    f.add(&t.dtype, sizeof t.dtype);
    for (int64_t d : t.shape) f.add(&d, sizeof d);
    // Two models of the same architecture differ only in their values: sample each tensor's bytes (start,
    // middle, end) so a checkpoint of another fine-tune is refused, without reading the whole model.
    if (const auto* raw = static_cast<const uint8_t*>(model_.weights->raw_data(i))) {
      const size_t bytes = dtype_storage_bytes(t.dtype, t.numel(), t.name);
      const size_t window = std::min<size_t>(bytes, 64);
      for (size_t at : {size_t(0), (bytes - window) / 2, bytes - window}) f.add(raw + at, window);
    }
  }
  f.add(opts_.canonical());
  f.add(be_.name());
  if (calib_) f.add(calib_->tokens.data(), calib_->tokens.size() * sizeof(int32_t));  // none when data-free
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(f.h));
  return hex;
}

void Job::prepare_calibration() {
  const ModelConfig& cfg = config();
  if (data_free_) {
    if (calib_ || !stream_.empty() || stream_loader_)
      log_.info("method '", opts_.method, "' is data-free: the calibration data is not used");
    calib_.reset();
    stream_.clear();
    stream_loader_ = nullptr;
    return;
  }
  if (!calib_) {
    if (stream_.empty() && stream_loader_) {
      stream_ = stream_loader_();
      stream_loader_ = nullptr;
    }
    if (stream_.empty())
      throw_error(SQ_ERR_STATE, "method '", opts_.method, "'", opts_.act_order ? " with act_order" : "",
                  " needs calibration data (its Hessians come from a forward pass): set calibration tokens or a "
                  "calibration file first; the data-free methods (rtn without act_order, higgs) need none");
    calib_ = sample_calibration(stream_, opts_.nsamples, opts_.seqlen, opts_.seed, cfg.vocab_size, stream_source_);
    stream_.clear();
    stream_.shrink_to_fit();
  }
  if (calib_->seq_len > cfg.max_position_embeddings && cfg.max_position_embeddings > 0)
    log_.warn("calibration sequences of ", calib_->seq_len, " tokens exceed the model's max_position_embeddings ",
              cfg.max_position_embeddings);
}

void Job::start() {
  const ModelConfig& cfg = config();
  validate_layer_options(opts_);  // a bad option combination fails here, before any work
  data_free_ = !needs_calibration(opts_);
  prepare_calibration();

  if (opts_.checkpoint_dir.empty()) {
    if (opts_.resume) throw_error(SQ_ERR_INVALID_ARGUMENT, "option 'resume' needs option 'checkpoint_dir'");
    work_dir_ = make_private_dir();
    own_work_dir_ = true;
  } else {
    work_dir_ = opts_.checkpoint_dir;
    std::error_code ec;
    fs::create_directories(work_dir_, ec);
    if (ec) throw_error(SQ_ERR_IO, "checkpoint directory '", work_dir_, "': ", ec.message());
  }
  // Per-layer bits (dynamic allocation or a plan file) are resolved before the fingerprint, which covers them.
  resolve_bit_plan(opts_, be_, *model_.weights, cfg, log_);
  if (!data_free_)
    acts_ = std::make_unique<ActivationStore>(calib_->n_samples, calib_->seq_len, cfg.hidden_size,
                                              opts_.activation_dtype, be_.device());
  const std::string fp = fingerprint();
  const std::string state_path = work_dir_ + "/" + kStateFile;
  bool resumed = false;
  if (opts_.resume && fs::exists(state_path)) {
    const auto state = nlohmann::json::parse(read_file(state_path), nullptr, false);
    if (state.is_discarded() || !state.is_object() || !state.contains("fingerprint") ||
        !state["fingerprint"].is_string() || !state.contains("next_block") || !state["next_block"].is_number_integer())
      throw_error(SQ_ERR_FORMAT, "checkpoint file '", state_path, "' is malformed");
    if (state["fingerprint"].get<std::string>() != fp)
      throw_error(SQ_ERR_STATE, "checkpoint in '", work_dir_,
                  "' was made with a different model, options or calibration data (fingerprint ",
                  state["fingerprint"].get<std::string>(), ", this job ", fp, "); remove it or drop --resume");
    next_block_ = state["next_block"].get<int64_t>();
    if (next_block_ < 0 || next_block_ > num_blocks())
      throw_error(SQ_ERR_FORMAT, "checkpoint file '", state_path, "': next_block ", next_block_, " outside [0, ",
                  num_blocks(), "]");
    for (int64_t i = 0; i < next_block_; ++i)
      if (!fs::exists(spool_block_path(work_dir_, i)))
        throw_error(SQ_ERR_FORMAT, "checkpoint in '", work_dir_, "' lacks '", spool_block_path(work_dir_, i), "'");
    if (acts_ && next_block_ < num_blocks()) acts_->load(activations_path(work_dir_, next_block_));
    resumed = true;
    log_.info("resuming from checkpoint '", work_dir_, "' at block ", next_block_, "/", num_blocks());
  }
  if (!resumed) {
    clear_checkpoint(work_dir_);
    if (acts_) {
      std::vector<float> buf(size_t(acts_->sample_floats()));
      for (int64_t s = 0; s < calib_->n_samples; ++s) {
        embed_tokens(*model_.weights, cfg, calib_->sample(s), calib_->seq_len, buf.data());
        acts_->put(s, buf.data());
      }
    }
    next_block_ = 0;
  }
  started_ = true;
  first_block_this_run_ = next_block_;
  t0_ = std::chrono::steady_clock::now();
}

void Job::quantize_block(int64_t block) {
  if (data_free_) return quantize_block_data_free(block);
  const ModelConfig& cfg = config();
  const int64_t seq = calib_->seq_len;
  BlockWeights w = take_block_weights(block);
  BlockPasses passes(be_, cfg, w, *acts_, seq, times_, &resident_acts_);
  passes.allow_checkpoints(opts_.pass_checkpoints);
  std::vector<std::pair<std::string, QuantizedLayer>> results;

  for (LinearGroup group : kGroupOrder) {
    HessianAccumulator acc = passes.hessian_of(group);
    const int64_t cols = acc.features();
    for (const std::string& name : linear_names(group)) {
      std::vector<float>& weight = w.linear(name);
      const std::string prefix = cfg.layer_prefix(block) + name;
      if (cols <= 0 || weight.size() % size_t(cols) != 0)
        throw_error(SQ_ERR_FORMAT, "tensor '", prefix, ".weight' has ", weight.size(), " elements, not a multiple of ",
                    cols, " input features");
      const int64_t rows = int64_t(weight.size()) / cols;
      QuantizedLayer q;
      try {
        StageTimer t(quantize_seconds_);
        q = quantize_linear(be_, weight.data(), rows, cols, acc.matrix().data(), opts_, log_, prefix);
      } catch (const Error& e) {
        // The quantizer sees bare matrices; name the tensor so a NaN weight or a singular Hessian can be found.
        throw Error(e.code(), cat("tensor '", prefix, ".weight': ", e.what()));
      }
      if (q.dequant.size() != weight.size())
        throw_error(SQ_ERR_INTERNAL, "quantizer returned ", q.dequant.size(), " weights for '", prefix, "' (", rows,
                    "x", cols, ")");
      weight = q.dequant;  // later groups see this layer quantized (true-sequential)
      passes.weight_changed(name);
      log_.debug(prefix, ": objective ", q.objective, ", damp ", q.damp_used);
      results.emplace_back(prefix, std::move(q));
    }
  }
  {
    StageTimer t(times_.spool);
    write_spool_block(spool_block_path(work_dir_, block), results);
    if (sink_)
      for (const auto& [prefix, q] : results) sink_(prefix, q);
  }
  // The quantized block's outputs are the next block's inputs (the last block's are not needed). Last, so
  // that a step failing before it leaves acts_ holding this block's inputs, and the step can be run again.
  if (block + 1 < num_blocks()) passes.advance();
}

BlockWeights Job::take_block_weights(int64_t block) {
  const ModelConfig& cfg = config();
  BlockWeights w;
  {
    StageTimer t(times_.load);  // with a read-ahead, only the time spent waiting for it
    if (read_ahead_.valid() && read_ahead_block_ == block) w = read_ahead_.get();  // rethrows its error
    else w = load_block_weights(*model_.weights, cfg, block);
  }
  if (read_ahead_.valid()) read_ahead_.wait();  // a stale read-ahead (a failed block is being retried)
  read_ahead_ = {};
  read_ahead_block_ = -1;
  if (be_.device() && block + 1 < num_blocks()) {
    read_ahead_block_ = block + 1;
    read_ahead_ = std::async(std::launch::async, [this, &cfg, next = block + 1] {
      return load_block_weights(*model_.weights, cfg, next);
    });
  }
  return w;
}

StageTimes Job::stage_times() const {
  StageTimes t = times_;
  t.cholesky = timed_.cholesky_seconds();
  t.sweep = std::max(0.0, quantize_seconds_ - t.cholesky);
  return t;
}

void Job::save_checkpoint() {
  StageTimer t(times_.spool);
  if (own_work_dir_) return;  // no checkpoint asked for: the spool alone is kept
  if (acts_ && next_block_ < num_blocks()) {
    resident_acts_.wait_for_host_copy();  // the block's outputs may still be on their way into acts_
    acts_->save(activations_path(work_dir_, next_block_));
  }
  const nlohmann::json state = {{"fingerprint", fingerprint()}, {"next_block", next_block_},
                                {"num_blocks", num_blocks()}, {"format_version", kSqFormatVersion}};
  write_file_atomic(work_dir_ + "/" + kStateFile, state.dump(2));
  std::error_code ec;
  fs::remove(activations_path(work_dir_, next_block_ - 1), ec);  // superseded
}

bool Job::step() {
  if (!started_) start();
  if (done()) return true;
  const int64_t block = next_block_;
  try {
    quantize_block(block);
  } catch (...) {
    resident_acts_.release();  // they may already be this block's outputs: never reuse them as its inputs
    throw;
  }
  next_block_ = block + 1;
  if (done()) resident_acts_.release();  // no next block: give the device memory back
  save_checkpoint();
  if (progress_) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const int64_t done_now = next_block_ - first_block_this_run_;
    const double eta = done_now > 0 ? elapsed / double(done_now) * double(num_blocks() - next_block_) : 0.0;
    if (progress_(next_block_, num_blocks(), elapsed, eta) != 0)
      throw_error(SQ_ERR_CANCELLED, "quantization cancelled by the progress callback after block ", next_block_, "/",
                  num_blocks());
  }
  return done();
}

void Job::run() {
  while (!step()) {
  }
}

}  // namespace sq
