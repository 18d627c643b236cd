#include "tokenizer/post_processor.hpp"

#include <string>

namespace sq::tok {

namespace {

class TemplatePostProcessor : public PostProcessor {
 public:
  // A template item is either a run of fixed ids or the sequence itself (empty ids, is_sequence = true).
  struct Item {
    bool is_sequence;
    std::vector<int32_t> ids;
  };
  explicit TemplatePostProcessor(std::vector<Item> items) : items_(std::move(items)) {}
  void process(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 8);
    for (const Item& it : items_) {
      if (it.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), it.ids.begin(), it.ids.end());
    }
    ids.swap(out);
  }

 private:
  std::vector<Item> items_;
};

class NoOpPostProcessor : public PostProcessor {
 public:
  void process(std::vector<int32_t>&) const override {}
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  void process(std::vector<int32_t>& ids) const override {
    for (const auto& p : parts_) p->process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

std::unique_ptr<PostProcessor> make_template(const json& spec, const JsonPlace& at) {
  const json& single = need(spec, "single", at);
  const json& specials = need(spec, "special_tokens", at);
  if (!single.is_array()) throw_error(SQ_ERR_FORMAT, at.child("single").str(), " must be an array");
  std::vector<TemplatePostProcessor::Item> items;
  for (size_t i = 0; i < single.size(); ++i) {
    const JsonPlace here = at.child("single").index(i);
    const json& piece = single[i];
    if (piece.is_object() && piece.contains("Sequence")) {
      items.push_back({true, {}});
    } else if (piece.is_object() && piece.contains("SpecialToken")) {
      const std::string name = need_string(piece["SpecialToken"], "id", here.child("SpecialToken"));
      const JsonPlace sat = at.child("special_tokens").child(name);
      if (!specials.is_object() || !specials.contains(name))
        throw_error(SQ_ERR_FORMAT, sat.str(), " is missing (the template uses it)");
      const json& idlist = need(specials[name], "ids", sat);
      if (!idlist.is_array()) throw_error(SQ_ERR_FORMAT, sat.child("ids").str(), " must be an array");
      TemplatePostProcessor::Item item{false, {}};
      for (const json& v : idlist) {
        if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > INT32_MAX)
          throw_error(SQ_ERR_FORMAT, sat.child("ids").str(), " must hold ids in [0, 2^31)");
        item.ids.push_back(static_cast<int32_t>(v.get<long long>()));
      }
      items.push_back(std::move(item));
    } else {
      throw_error(SQ_ERR_FORMAT, here.str(), " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  return std::make_unique<TemplatePostProcessor>(std::move(items));
}

// Roberta / Bert: "cls": [token, id], "sep": [token, id]; a single sequence becomes cls A sep.
std::unique_ptr<PostProcessor> make_cls_sep(const json& spec, const JsonPlace& at) {
  auto id_of = [&](const char* key) {
    const json& pair = need(spec, key, at);
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer())
      throw_error(SQ_ERR_FORMAT, at.child(key).str(), " must be [token, id]");
    return static_cast<int32_t>(pair[1].get<long long>());
  };
  std::vector<TemplatePostProcessor::Item> items{{false, {id_of("cls")}}, {true, {}}, {false, {id_of("sep")}}};
  return std::make_unique<TemplatePostProcessor>(std::move(items));
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& spec, const JsonPlace& at) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec, at);
  if (type == "TemplateProcessing") return make_template(spec, at);
  if (type == "ByteLevel") return std::make_unique<NoOpPostProcessor>();  // it only trims offsets
  if (type == "RobertaProcessing" || type == "BertProcessing") return make_cls_sep(spec, at);
  if (type == "Sequence") {
    const json& list = need(spec, "processors", at);
    if (!list.is_array()) throw_error(SQ_ERR_FORMAT, at.child("processors").str(), " must be an array");
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], at.child("processors").index(i));
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePostProcessor>(std::move(parts));
  }
  throw_error(SQ_ERR_UNSUPPORTED, at.child("type").str(), ": post-processor '", type,
              "' is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, "
              "Sequence)");
}

}  // namespace sq::tok
