#include "pipeline/stage_times.hpp"

#include <nlohmann/json.hpp>

namespace sq {

std::string StageTimes::to_json() const {
  return nlohmann::ordered_json{{"load", load},         {"forward", forward}, {"hessian", hessian}, {"cholesky", cholesky},
                        {"sweep", sweep},       {"spool", spool},     {"write", write}}
      .dump();
}

}  // namespace sq
