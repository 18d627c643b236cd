#include "io/weight_source.hpp"

#include "util/error.hpp"

namespace sq {

size_t WeightSource::find(const std::string& name) const {
  std::call_once(*index_.built, [this] {
    const auto& ts = tensors();
    for (size_t i = 0; i < ts.size(); ++i) index_.names.emplace(ts[i].name, i);
  });
  auto it = index_.names.find(name);
  return it == index_.names.end() ? SIZE_MAX : it->second;
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
