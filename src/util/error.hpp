// Internal error type. Code below the C ABI throws sq::Error; src/api converts it into an sq_error.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "streamquant/sq_core.h"

namespace sq {

class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const noexcept { return code_; }

 private:
  int32_t code_;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Concatenate the arguments with operator<< into one message.
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

// throw_error(SQ_ERR_FORMAT, "file '", path, "': header length ", n, " exceeds file size ", size);
template <typename... Args>
[[noreturn]] void throw_error(int32_t code, const Args&... args) {
  throw Error(code, cat(args...));
}

}  // namespace sq
