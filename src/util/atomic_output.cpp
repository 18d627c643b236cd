#include "util/atomic_output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/error.hpp"
#include "util/posix_file.hpp"

namespace sq {
namespace fs = std::filesystem;

namespace {

// What sits at a path right now. A symlink counts as "other" (rename() replaces the link, not its target).
enum class PathKind { absent, empty_dir, nonempty_dir, other };

PathKind classify(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (ec || st.type() == fs::file_type::not_found) return PathKind::absent;
  if (st.type() != fs::file_type::directory) return PathKind::other;
  const bool empty = fs::is_empty(path, ec);
  if (ec) throw_error(SQ_ERR_IO, "output '", path, "': cannot list the existing directory: ", ec.message());
  return empty ? PathKind::empty_dir : PathKind::nonempty_dir;
}

// Strip trailing slashes so "out/" and "out" name the same sibling temp directory.
std::string normalize(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

AtomicDir::AtomicDir(std::string final_path, bool overwrite)
    : final_(normalize(std::move(final_path))), overwrite_(overwrite) {
  if (final_.empty()) throw_error(SQ_ERR_INVALID_ARGUMENT, "output directory path is empty");
  const PathKind kind = classify(final_);
  if (!overwrite_ && kind == PathKind::other)
    throw_error(SQ_ERR_IO, "output '", final_,
                "' already exists and is not a directory (pass overwrite to replace it)");
  if (!overwrite_ && kind == PathKind::nonempty_dir)
    throw_error(SQ_ERR_IO, "output directory '", final_,
                "' already exists and is not empty (pass overwrite to replace it)");
  tmp_ = temp_sibling_name(final_);
  if (::mkdir(tmp_.c_str(), 0755) != 0)
    throw_error(SQ_ERR_IO, "output '", final_, "': cannot create the temporary directory '", tmp_,
                "': ", std::strerror(errno));
}

AtomicDir::~AtomicDir() {
  if (committed_) return;
  std::error_code ec;  // destructors must not throw; a leftover temp dir is harmless and clearly named
  fs::remove_all(tmp_, ec);
}

void AtomicDir::commit() {
  if (committed_) throw_error(SQ_ERR_STATE, "output '", final_, "' was already committed");
  const PathKind kind = classify(final_);
  if (kind == PathKind::empty_dir) {
    // An empty directory is what `mkdir out` leaves: replacing it loses nothing.
    if (::rmdir(final_.c_str()) != 0 && errno != ENOENT)
      throw_error(SQ_ERR_IO, "output '", final_, "': cannot replace the empty directory: ", std::strerror(errno));
  } else if (kind != PathKind::absent) {
    if (!overwrite_)
      throw_error(SQ_ERR_IO, "output '", final_, "' appeared while it was being written; not replacing it");
    // Move the old output aside first so that at every instant either the old or the new one is in place.
    const std::string old = temp_sibling_name(final_ + ".old");
    if (::rename(final_.c_str(), old.c_str()) != 0)
      throw_error(SQ_ERR_IO, "output '", final_, "': cannot move the existing output aside: ", std::strerror(errno));
    if (::rename(tmp_.c_str(), final_.c_str()) != 0) {
      const int err = errno;
      (void)::rename(old.c_str(), final_.c_str());  // put the old output back
      throw_error(SQ_ERR_IO, "output '", final_, "': cannot move '", tmp_, "' into place: ", std::strerror(err));
    }
    committed_ = true;
    fsync_parent_dir(final_);
    // The new output is in place: failing to delete the old one must not turn success into an error.
    std::error_code ec;
    fs::remove_all(old, ec);
    return;
  }
  // rename() of a directory fails (ENOTEMPTY/EEXIST/ENOTDIR) rather than clobbering anything that raced in.
  if (::rename(tmp_.c_str(), final_.c_str()) != 0)
    throw_error(SQ_ERR_IO, "output '", final_, "': cannot move '", tmp_, "' into place: ", std::strerror(errno));
  committed_ = true;
  fsync_parent_dir(final_);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = temp_sibling_name(path);
  try {
    UniqueFd fd = create_exclusive(tmp);
    write_all(fd.get(), contents.data(), contents.size(), tmp);
    fsync_checked(fd.get(), tmp);
    fd.close_checked(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw_error(SQ_ERR_IO, "file '", path, "': cannot rename '", tmp, "' into place: ", std::strerror(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_parent_dir(path);
}

std::string read_file(const std::string& path) {
  const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) throw_error(SQ_ERR_IO, "file '", path, "': cannot open: ", std::strerror(errno));
  UniqueFd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_error(SQ_ERR_IO, "file '", path, "': cannot stat: ", std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw_error(SQ_ERR_IO, "file '", path, "' is a directory, expected a file");
  std::string out;
  if (S_ISREG(st.st_mode)) out.reserve(size_t(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_error(SQ_ERR_IO, "file '", path, "': read failed: ", std::strerror(errno));
    }
    if (r == 0) break;
    out.append(buf, size_t(r));
  }
  return out;
}

}  // namespace sq
