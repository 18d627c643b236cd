// extern "C" shims for the quantization job (include/streamquant/sq_job.h).
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "api/api_internal.hpp"
#include "api/api_model.hpp"
#include "pipeline/calibration.hpp"
#include "pipeline/job.hpp"
#include "pipeline/writer.hpp"
#include "streamquant/sq_job.h"
#include "tokenizer/tokenizer.hpp"
#include "util/atomic_output.hpp"

struct sq_job {
  sq_model* model = nullptr;
  std::unique_ptr<sq::Job> job;
  sq_tensor_sink_fn sink = nullptr;
  void* sink_user = nullptr;
  std::optional<sq::OutputStats> written;  // stats of the last successful sq_job_write
  double write_seconds = 0;                 // sq_job_write calls, summed
  std::string stage_json;                   // returned by sq_job_stage_seconds_json
};

namespace {

using sq::api::guard;
using sq::api::require_arg;

bool looks_like_token_file(const std::string& path) {
  auto ends_with = [&](const char* s) {
    const size_t n = std::strlen(s);
    return path.size() >= n && path.compare(path.size() - n, n, s) == 0;
  };
  return ends_with(".npy") || ends_with(".bin") || ends_with(".tokens") || ends_with(".u32");
}

// Text calibration: tokenized with the model's tokenizer.json.
std::vector<int32_t> tokenize_text_file(const sq_job& job, const std::string& path) {
  if (job.model->files.tokenizer_json.empty())
    sq::throw_error(SQ_ERR_NOT_FOUND, "calibration file '", path,
                    "' is text, but the model has no tokenizer.json to tokenize it with");
  const auto tok = sq::tok::Tokenizer::from_json(job.model->files.tokenizer_json, job.model->files.path + " tokenizer.json");
  // No special tokens: calibration windows are cut at random offsets from one continuous stream.
  return tok->encode(sq::read_file(path), false);
}

}  // namespace

extern "C" {

SQ_API sq_error* sq_job_create(sq_job** out, sq_model* model) {
  return guard([&] {
    require_arg(out, "sq_job_create", "out");
    require_arg(model, "sq_job_create", "model");
    auto j = std::make_unique<sq_job>();
    j->model = model;
    j->job = std::make_unique<sq::Job>(*model->ctx->backend, model->ctx->log, model->files);
    sq_job* raw = j.get();
    j->job->set_layer_sink([raw](const std::string& prefix, const sq::QuantizedLayer& layer) {
      if (!raw->sink) return;
      const auto tensors = layer.grid == sq::GridKind::Lut ? sq::pack_lut_layer(prefix, layer)
                                                           : sq::pack_gptq_layer(prefix, layer, /*v1=*/false);
      for (const auto& t : tensors)
        raw->sink(t.name.c_str(), t.dtype, int32_t(t.shape.size()), t.shape.data(), t.bytes.data(), t.bytes.size(),
                  raw->sink_user);
    });
    *out = j.release();
  });
}

SQ_API void sq_job_free(sq_job* job) { std::unique_ptr<sq_job> owned(job); }

SQ_API sq_error* sq_job_set_option(sq_job* job, const char* key, const char* value) {
  return guard([&] {
    require_arg(job, "sq_job_set_option", "job");
    require_arg(key, "sq_job_set_option", "key");
    require_arg(value, "sq_job_set_option", "value");
    if (job->job->blocks_done() > 0 || job->job->done())
      sq::throw_error(SQ_ERR_STATE, "sq_job_set_option: option '", key, "' set after the job started");
    job->job->options().set(key, value);
  });
}

SQ_API sq_error* sq_job_set_calibration_tokens(sq_job* job, const int32_t* tokens, size_t n_seqs, size_t seq_len) {
  return guard([&] {
    require_arg(job, "sq_job_set_calibration_tokens", "job");
    require_arg(tokens, "sq_job_set_calibration_tokens", "tokens");
    job->job->set_calibration_samples(sq::calibration_from_samples(
        tokens, int64_t(n_seqs), int64_t(seq_len), job->job->config().vocab_size, "tokens given to the job"));
  });
}

SQ_API sq_error* sq_job_set_calibration_file(sq_job* job, const char* path_utf8) {
  return guard([&] {
    require_arg(job, "sq_job_set_calibration_file", "job");
    require_arg(path_utf8, "sq_job_set_calibration_file", "path_utf8");
    const std::string path = path_utf8;
    // Fail now on a file that cannot be read; read and tokenize it only when the job starts, and only if
    // its method needs calibration (data-free methods never do).
    if (!std::ifstream(path, std::ios::binary))
      sq::throw_error(SQ_ERR_IO, "calibration file '", path, "': cannot open for reading");
    sq_job* raw = job;
    job->job->set_calibration_loader(
        [raw, path] { return looks_like_token_file(path) ? sq::read_token_file(path) : tokenize_text_file(*raw, path); },
        "file '" + path + "'");
  });
}

SQ_API sq_error* sq_job_set_progress(sq_job* job, sq_progress_fn fn, void* user_data) {
  return guard([&] {
    require_arg(job, "sq_job_set_progress", "job");
    if (!fn) return job->job->set_progress(nullptr);
    job->job->set_progress([fn, user_data](int64_t done, int64_t total, double elapsed, double eta) {
      return int(fn(done, total, elapsed, eta, user_data));
    });
  });
}

SQ_API sq_error* sq_job_set_tensor_sink(sq_job* job, sq_tensor_sink_fn fn, void* user_data) {
  return guard([&] {
    require_arg(job, "sq_job_set_tensor_sink", "job");
    job->sink = fn;
    job->sink_user = user_data;
  });
}

SQ_API sq_error* sq_job_set_checkpoint_dir(sq_job* job, const char* dir_utf8, int32_t resume) {
  return guard([&] {
    require_arg(job, "sq_job_set_checkpoint_dir", "job");
    require_arg(dir_utf8, "sq_job_set_checkpoint_dir", "dir_utf8");
    job->job->options().set("checkpoint_dir", dir_utf8);
    job->job->options().set("resume", resume ? "true" : "false");
  });
}

SQ_API sq_error* sq_job_step(sq_job* job, int32_t* out_done) {
  return guard([&] {
    require_arg(job, "sq_job_step", "job");
    const bool done = job->job->step();
    if (out_done) *out_done = done ? 1 : 0;
  });
}

SQ_API sq_error* sq_job_run(sq_job* job) {
  return guard([&] {
    require_arg(job, "sq_job_run", "job");
    job->job->run();
  });
}

SQ_API sq_error* sq_job_progress(const sq_job* job, int64_t* done_out, int64_t* count_out) {
  return guard([&] {
    require_arg(job, "sq_job_progress", "job");
    if (done_out) *done_out = job->job->blocks_done();
    if (count_out) *count_out = job->job->num_blocks();
  });
}

SQ_API sq_error* sq_job_write(sq_job* job, const char* out_dir_utf8, const char* format) {
  return guard([&] {
    require_arg(job, "sq_job_write", "job");
    require_arg(out_dir_utf8, "sq_job_write", "out_dir_utf8");
    require_arg(format, "sq_job_write", "format");
    if (!job->job->done())
      sq::throw_error(SQ_ERR_STATE, "sq_job_write: the job has done ", job->job->blocks_done(), " of ",
                      job->job->num_blocks(), " blocks; run it to the end first");
    const sq::WriteRequest req{job->job->model(), job->job->options(), job->job->spool_files()};
    sq::StageTimer t(job->write_seconds);
    job->written = sq::write_output(out_dir_utf8, format, req);
  });
}

SQ_API const char* sq_job_stage_seconds_json(sq_job* job) {
  if (job == nullptr || !job->job) return "{}";
  try {
    sq::StageTimes t = job->job->stage_times();
    t.write = job->write_seconds;
    job->stage_json = t.to_json();
    return job->stage_json.c_str();
  } catch (...) {
    return "{}";
  }
}

SQ_API sq_error* sq_job_output_stats(const sq_job* job, int64_t* quantized_weights_out, int64_t* quantized_bytes_out,
                                     double* bits_per_weight_out) {
  return guard([&] {
    require_arg(job, "sq_job_output_stats", "job");
    if (!job->written) sq::throw_error(SQ_ERR_STATE, "sq_job_output_stats: nothing written yet; call sq_job_write first");
    if (quantized_weights_out) *quantized_weights_out = job->written->quantized_weights;
    if (quantized_bytes_out) *quantized_bytes_out = job->written->quantized_bytes;
    if (bits_per_weight_out) *bits_per_weight_out = job->written->bits_per_weight();
  });
}

}  // extern "C"
