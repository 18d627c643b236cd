#include "io/hf_export.hpp"

#include <filesystem>
#include <vector>

#include "io/safetensors_writer.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {
namespace fs = std::filesystem;

namespace {

const char* torch_dtype_name(DType t) {
  switch (t) {
    case SQ_DTYPE_F32: return "float32";
    case SQ_DTYPE_BF16: return "bfloat16";
    default: return "float16";
  }
}

DType output_dtype(DType requested, DType stored) {
  if (requested >= 0) return requested;
  return dtype_is_float(stored) ? stored : DType(SQ_DTYPE_F16);
}

}  // namespace

void save_hf_model(const ModelFiles& model, const std::string& out_dir, DType dtype, const Logger& log) {
  if (dtype >= 0 && !dtype_is_float(dtype))
    throw_error(SQ_ERR_INVALID_ARGUMENT, "output dtype must be F32, F16 or BF16; got ", dtype_name(dtype));
  AtomicDir out(out_dir);
  const auto& tensors = model.weights->tensors();

  DType config_dtype = dtype;
  {
    SafetensorsWriter writer((fs::path(out.tmp_path()) / "model.safetensors").string());
    writer.set_metadata("format", "pt");
    for (const TensorDesc& t : tensors) {
      const DType out_t = output_dtype(dtype, t.dtype);
      if (config_dtype < 0) config_dtype = out_t;
      writer.declare(t.name, out_t, t.shape);
    }
    std::vector<float> buf;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorDesc& t = tensors[i];
      const DType out_t = output_dtype(dtype, t.dtype);
      const void* raw = model.weights->raw_data(i);
      if (raw != nullptr && out_t == t.dtype) {  // same dtype, same layout: copy the bytes untouched
        writer.write(t.name, raw, size_t(t.numel()) * dtype_size(t.dtype));
        continue;
      }
      buf.resize(size_t(t.numel()));
      model.weights->read_f32(i, buf.data());
      writer.write_f32(t.name, buf.data(), buf.size());
    }
    writer.finish();
  }
  log.info("wrote ", tensors.size(), " tensors to ", out_dir, "/model.safetensors");

  if (model.config) {
    nlohmann::json cfg = model.config->raw;
    cfg["torch_dtype"] = torch_dtype_name(config_dtype < 0 ? SQ_DTYPE_F16 : config_dtype);
    write_file_atomic((fs::path(out.tmp_path()) / "config.json").string(), cfg.dump(2) + "\n");
  }
  if (!model.tokenizer_json.empty())
    write_file_atomic((fs::path(out.tmp_path()) / "tokenizer.json").string(), model.tokenizer_json);
  for (const std::string& side : model.side_files) {
    const fs::path name = fs::path(side).filename();
    if (name == "tokenizer.json") continue;  // written above (possibly rebuilt)
    std::error_code ec;
    fs::copy_file(side, fs::path(out.tmp_path()) / name, ec);
    if (ec) throw_error(SQ_ERR_IO, "copying '", side, "' to '", out_dir, "': ", ec.message());
  }
  out.commit();
}

}  // namespace sq
