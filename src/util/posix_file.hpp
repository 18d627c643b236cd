// Small POSIX file helpers shared by the atomic writers: an owning descriptor, a write that checks every
// return value (short writes, EINTR, ENOSPC), fsync, and unique temporary sibling names.
#pragma once
#include <cstddef>
#include <string>

namespace sq {

// Owns a file descriptor; closes it on destruction (errors at that point are ignored: callers that care
// about them call close_checked()).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { const int fd = fd_; fd_ = -1; return fd; }
  // close() and report its failure (delayed write errors surface here on some file systems).
  void close_checked(const std::string& path);

 private:
  int fd_ = -1;
};

// Create `path` exclusively for writing (O_EXCL: never clobbers); SQ_ERR_IO naming the path on failure.
UniqueFd create_exclusive(const std::string& path);
// Write all `n` bytes or throw SQ_ERR_IO naming `path` (disk full, I/O error, ...).
void write_all(int fd, const void* data, size_t n, const std::string& path);
void fsync_checked(int fd, const std::string& path);
// fsync the directory holding `path`, so a rename into it survives a crash. Best effort: some file systems
// refuse to fsync directories, and the data itself is already safe by then.
void fsync_parent_dir(const std::string& path);
// "<path>.tmp.<pid>.<n>": a sibling of `path` (same file system, so rename is atomic) unique in this process.
std::string temp_sibling_name(const std::string& path);

}  // namespace sq
