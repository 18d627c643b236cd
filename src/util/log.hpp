// A log sink that forwards to the host's callback (set through sq_context_set_log).
#pragma once
#include <cstdint>
#include <string>

#include "streamquant/sq_core.h"
#include "util/error.hpp"

namespace sq {

struct Logger {
  sq_log_fn fn = nullptr;
  void* user_data = nullptr;
  int32_t min_level = SQ_LOG_INFO;

  bool enabled(int32_t level) const { return fn != nullptr && level >= min_level; }
  void write(int32_t level, const std::string& message) const {
    if (enabled(level)) fn(level, message.c_str(), user_data);
  }
  template <typename... Args>
  void debug(const Args&... a) const { if (enabled(SQ_LOG_DEBUG)) write(SQ_LOG_DEBUG, cat(a...)); }
  template <typename... Args>
  void info(const Args&... a) const { if (enabled(SQ_LOG_INFO)) write(SQ_LOG_INFO, cat(a...)); }
  template <typename... Args>
  void warn(const Args&... a) const { if (enabled(SQ_LOG_WARN)) write(SQ_LOG_WARN, cat(a...)); }
};

// A logger that drops everything: for tests and for code paths called without a context.
inline const Logger& null_logger() {
  static const Logger logger;
  return logger;
}

}  // namespace sq
