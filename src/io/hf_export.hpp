// Writing an opened model back out as a Hugging Face directory (used by `streamquant convert`).
#pragma once
#include <string>

#include "io/model_files.hpp"
#include "util/dtype.hpp"
#include "util/log.hpp"

namespace sq {

// dtype: SQ_DTYPE_F32/F16/BF16, or -1 = keep each float tensor's dtype (block-quantized -> F16).
// The directory appears complete or not at all (AtomicDir); an existing non-empty out_dir is refused.
void save_hf_model(const ModelFiles& model, const std::string& out_dir, DType dtype, const Logger& log);

}  // namespace sq
