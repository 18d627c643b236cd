// The project's own container: one safetensors file whose U8 tensors are the sq layer codec's zstd
// frames, copied verbatim from the spool, with the schemes in __metadata__.
#include "io/safetensors_source.hpp"
#include "io/safetensors_writer.hpp"
#include "pipeline/layer_codec.hpp"
#include "pipeline/spool.hpp"
#include "pipeline/writer.hpp"
#include "util/atomic_output.hpp"
#include "util/error.hpp"

namespace sq {

OutputStats write_sq(const std::string& out_dir, const WriteRequest& req) {
  OutputStats stats;
  const auto prefixes = spooled_prefixes(req);
  const auto pass = pass_through_tensors(req, prefixes);
  AtomicDir dir(out_dir);
  {
    SafetensorsWriter w(dir.tmp_path() + "/model.safetensors");
    w.set_metadata("format", kSqFormatName);
    w.set_metadata("sq.format_version", std::to_string(kSqFormatVersion));
    declare_pass_through(w, req, pass);
    for (const auto& f : req.spool_files) {
      const auto meta = read_safetensors_metadata(f);
      for (auto it = meta.begin(); it != meta.end(); ++it)
        if (it.key().rfind(kSqSchemePrefix, 0) == 0) {
          const std::string scheme = it.value().get<std::string>();
          w.set_metadata(it.key(), scheme);
          const auto j = nlohmann::json::parse(scheme);
          stats.quantized_weights += j.at("rows").get<int64_t>() * j.at("cols").get<int64_t>();
          stats.quantized_bytes += int64_t(scheme.size());
        }
      const auto src = open_safetensors_file(f);
      for (const auto& t : src->tensors()) {
        w.declare(t.name, t.dtype, t.shape);
        stats.quantized_bytes += t.numel();  // U8 frames: one byte per element
      }
    }
    write_pass_through(w, req, pass);
    for (const auto& f : req.spool_files) {
      const auto src = open_safetensors_file(f);
      for (size_t i = 0; i < src->tensors().size(); ++i)
        w.write(src->tensors()[i].name, src->raw_data(i), size_t(src->tensors()[i].numel()));
    }
    w.finish();
  }
  const JobOptions& o = req.options;
  nlohmann::json qc = {{"quant_method", "streamquant"}, {"format", "sq"},
                       {"format_version", kSqFormatVersion}, {"method", o.method},
                       {"bits", o.bits}, {"group_size", o.group_size},
                       {"sym", o.sym}, {"desc_act", o.act_order},
                       {"effective_bits_per_weight", stats.bits_per_weight()}};
  add_bit_plan(qc, o, false);
  write_model_side_files(dir.tmp_path(), req, qc, pass);
  dir.commit();
  return stats;
}

OutputStats write_output(const std::string& out_dir, const std::string& format, const WriteRequest& req) {
  if (format == "gptq") return write_gptq(out_dir, req);
  if (format == "lut") return write_lut(out_dir, req);
  if (format == "sq") return write_sq(out_dir, req);
  throw_error(SQ_ERR_INVALID_ARGUMENT, "output format must be gptq, lut or sq; got '", format, "'");
}

}  // namespace sq
