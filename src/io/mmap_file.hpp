// A read-only, private memory mapping of a whole file. Weights stay in the page cache and are paged in on
// first touch; nothing is copied. MAP_PRIVATE so that no writer elsewhere can be disturbed by us.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sq {

class MappedFile {
 public:
  // Throws SQ_ERR_IO naming `path` when the file cannot be opened, is not a regular file, or cannot be mapped.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drop the resident pages of [p, p + n) of a read-only private mapping (madvise MADV_DONTNEED on the pages
// that hold it). The mapping stays valid: a later read pages the data back in from the page cache. Streaming
// uses it after a tensor has been converted, so file pages read once do not accumulate in the resident set
// of a run over a model larger than memory. Best effort: failures are ignored.
void release_mapped_pages(const void* p, size_t n);

}  // namespace sq
