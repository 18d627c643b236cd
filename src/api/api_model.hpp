// The sq_model object behind the C API: an opened model and its cached description.
#pragma once
#include <string>

#include "api/api_internal.hpp"
#include "io/model_files.hpp"

struct sq_model {
  sq_context* ctx;
  sq::ModelFiles files;
  std::string describe_json;
};
