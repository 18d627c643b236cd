#include "io/weight_source.hpp"

#include "util/error.hpp"

namespace sq {

size_t WeightSource::find(const std::string& name) const {
  if (index_.empty()) {
    const auto& ts = tensors();
    for (size_t i = 0; i < ts.size(); ++i) index_.emplace(ts[i].name, i);
  }
  auto it = index_.find(name);
  return it == index_.end() ? SIZE_MAX : it->second;
}

size_t WeightSource::require(const std::string& name) const {
  const size_t i = find(name);
  if (i == SIZE_MAX) throw_error(SQ_ERR_NOT_FOUND, "tensor '", name, "' not found in the ", format(), " model");
  return i;
}

std::vector<float> WeightSource::read_f32(const std::string& name) const {
  const size_t i = require(name);
  std::vector<float> out(tensors()[i].numel());
  read_f32(i, out.data());
  return out;
}

}  // namespace sq
