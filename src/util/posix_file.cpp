#include "util/posix_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/error.hpp"

namespace sq {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

void UniqueFd::close_checked(const std::string& path) {
  const int fd = release();
  if (fd >= 0 && ::close(fd) != 0)
    throw_error(SQ_ERR_IO, "file '", path, "': close failed: ", std::strerror(errno));
}

UniqueFd create_exclusive(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_error(SQ_ERR_IO, "file '", path, "': cannot create: ", std::strerror(errno));
  return UniqueFd(fd);
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_error(SQ_ERR_IO, "file '", path, "': write failed: ", std::strerror(errno));
    }
    if (w == 0) throw_error(SQ_ERR_IO, "file '", path, "': write made no progress (device full?)");
    p += w;
    n -= size_t(w);
  }
}

void fsync_checked(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw_error(SQ_ERR_IO, "file '", path, "': fsync failed: ", std::strerror(errno));
}

void fsync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

std::string temp_sibling_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
}

}  // namespace sq
