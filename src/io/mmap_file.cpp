#include "io/mmap_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"
#include "util/posix_file.hpp"

namespace sq {

MappedFile::MappedFile(std::string path) : path_(std::move(path)) {
  const int raw = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) throw_error(SQ_ERR_IO, "file '", path_, "': cannot open: ", std::strerror(errno));
  UniqueFd fd(raw);  // the mapping outlives the descriptor
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_error(SQ_ERR_IO, "file '", path_, "': cannot stat: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw_error(SQ_ERR_IO, "file '", path_, "' is not a regular file");
  size_ = size_t(st.st_size);
  if (size_ == 0) return;  // mmap refuses length 0; callers see an empty file and report it in their terms
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED)
    throw_error(SQ_ERR_IO, "file '", path_, "': cannot mmap ", size_, " bytes: ", std::strerror(errno));
  data_ = static_cast<const uint8_t*>(p);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void release_mapped_pages(const void* p, size_t n) {
  if (p == nullptr || n == 0) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = uintptr_t(p) & ~(page - 1);
  const uintptr_t end = (uintptr_t(p) + n + page - 1) & ~(page - 1);
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace sq
