// Helpers shared by the extern "C" shims: building sq_error values and converting exceptions.
// Every entry point is `return guard([&] { ... });` so no C++ exception crosses the boundary.
#pragma once
#include <memory>
#include <new>
#include <string>

#include "backend/backend.hpp"
#include "streamquant/sq_core.h"
#include "util/error.hpp"
#include "util/log.hpp"

struct sq_error {
  int32_t code;
  std::string message;
};

struct sq_context {
  std::string device = "cpu";
  int threads = 0;
  uint64_t memory_budget = uint64_t(32) << 30;
  sq::MatmulInputs forward_inputs = sq::MatmulInputs::FP32;  // sq_context_set_matmul_precision
  sq::Logger log;
  std::unique_ptr<sq::Backend> backend;
};

namespace sq::api {

sq_error* make_error(int32_t code, const std::string& message) noexcept;

template <typename F>
sq_error* guard(F&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (const Error& e) {
    return make_error(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return make_error(SQ_ERR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return make_error(SQ_ERR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return make_error(SQ_ERR_INTERNAL, "internal error: unknown exception");
  }
}

// Throws SQ_ERR_INVALID_ARGUMENT "<fn>: argument '<what>' must not be NULL".
inline void require_arg(const void* p, const char* fn, const char* what) {
  if (p == nullptr) throw_error(SQ_ERR_INVALID_ARGUMENT, fn, ": argument '", what, "' must not be NULL");
}

}  // namespace sq::api
