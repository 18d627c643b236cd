// All-or-nothing outputs. A file or directory is built under a temporary sibling name and renamed into
// place by commit(); destroying the object without commit() removes the temporary. A reader never sees
// a half-written output.
#pragma once
#include <string>

namespace sq {

class AtomicDir {
 public:
  // Fails (SQ_ERR_IO) if `final_path` exists and is a non-empty directory or a file, unless overwrite.
  explicit AtomicDir(std::string final_path, bool overwrite = false);
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;
  const std::string& tmp_path() const { return tmp_; }
  const std::string& final_path() const { return final_; }
  void commit();

 private:
  std::string final_, tmp_;
  bool overwrite_ = false, committed_ = false;
};

// Write a whole file atomically (temp + fsync + rename).
void write_file_atomic(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);  // SQ_ERR_IO naming the path on failure

}  // namespace sq
