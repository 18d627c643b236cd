// tokenizer.json "post_processor": the special tokens wrapped around an encoding when the caller asks for them.
// Supported: TemplateProcessing (single template), ByteLevel (no ids change), RobertaProcessing,
// BertProcessing, Sequence.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "tokenizer/json_fields.hpp"

namespace sq::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Wrap the ids of a single sequence; only called when special tokens are requested.
  virtual void process(std::vector<int32_t>& ids) const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const json& spec, const JsonPlace& at);

}  // namespace sq::tok
