// AtomicDir and write_file_atomic: outputs appear whole or not at all, and never clobber by accident.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "test_files.hpp"
#include "util/atomic_output.hpp"

namespace {

namespace fs = std::filesystem;
using sqtest::expect_error;
using sqtest::TempDir;

TEST(AtomicDir, CommitMovesTheFinishedDirectoryIntoPlace) {
  TempDir parent;
  const std::string out = parent.file("out");
  {
    sq::AtomicDir d(out);
    EXPECT_EQ(d.final_path(), out);
    EXPECT_EQ(fs::path(d.tmp_path()).parent_path(), fs::path(parent.path())) << "temp must be a sibling";
    sqtest::write_bytes(d.tmp_path() + "/a.txt", "hello");
    EXPECT_FALSE(fs::exists(out)) << "nothing visible before commit";
    d.commit();
    expect_error([&] { d.commit(); }, SQ_ERR_STATE, {out});
  }
  EXPECT_EQ(parent.list(), std::vector<std::string>{"out"});
  EXPECT_EQ(sqtest::read_bytes(out + "/a.txt"), "hello");
}

TEST(AtomicDir, AbandonedOutputLeavesNothing) {
  TempDir parent;
  {
    sq::AtomicDir d(parent.file("out"));
    sqtest::write_bytes(d.tmp_path() + "/partial.bin", "half");
    fs::create_directory(d.tmp_path() + "/sub");
  }
  EXPECT_TRUE(parent.list().empty());
}

TEST(AtomicDir, RefusesExistingOutputsUnlessOverwrite) {
  TempDir parent;
  const std::string out = parent.file("out"), file = parent.file("file");
  fs::create_directory(out);
  sqtest::write_bytes(out + "/keep.txt", "old");
  sqtest::write_bytes(file, "x");
  expect_error([&] { sq::AtomicDir d(out); }, SQ_ERR_IO, {out, "not empty"});
  expect_error([&] { sq::AtomicDir d(file); }, SQ_ERR_IO, {file, "not a directory"});
  EXPECT_EQ(sqtest::read_bytes(out + "/keep.txt"), "old");
  EXPECT_EQ(parent.list(), (std::vector<std::string>{"file", "out"}));
}

TEST(AtomicDir, AnEmptyExistingDirectoryIsReplaced) {
  TempDir parent;
  const std::string out = parent.file("out/");  // trailing slash names the same output
  fs::create_directory(parent.file("out"));
  {
    sq::AtomicDir d(out);
    sqtest::write_bytes(d.tmp_path() + "/new.txt", "new");
    d.commit();
  }
  EXPECT_EQ(sqtest::read_bytes(parent.file("out/new.txt")), "new");
  EXPECT_EQ(parent.list(), std::vector<std::string>{"out"});
}

TEST(AtomicDir, OverwriteReplacesTheOldOutputWhole) {
  TempDir parent;
  const std::string out = parent.file("out");
  fs::create_directory(out);
  sqtest::write_bytes(out + "/old.txt", "old");
  {
    sq::AtomicDir d(out, /*overwrite=*/true);
    sqtest::write_bytes(d.tmp_path() + "/new.txt", "new");
    EXPECT_EQ(sqtest::read_bytes(out + "/old.txt"), "old") << "old output intact until commit";
    d.commit();
  }
  EXPECT_EQ(TempDir::list_dir(out), std::vector<std::string>{"new.txt"});
  EXPECT_EQ(parent.list(), std::vector<std::string>{"out"}) << "the old copy is removed";
  // A file in the way is replaced too when overwriting.
  const std::string file = parent.file("file");
  sqtest::write_bytes(file, "x");
  {
    sq::AtomicDir d(file, true);
    d.commit();
  }
  EXPECT_TRUE(fs::is_directory(file));
}

TEST(AtomicDir, UncreatableTemporaryNamesThePath) {
  TempDir parent;
  const std::string out = parent.file("missing_parent/out");
  expect_error([&] { sq::AtomicDir d(out); }, SQ_ERR_IO, {out});
}

TEST(AtomicFile, WriteThenReadBackAndReplace) {
  TempDir dir;
  const std::string p = dir.file("f.json");
  std::string big(3 << 20, 'z');
  big[12345] = '\0';  // binary-safe
  sq::write_file_atomic(p, big);
  EXPECT_EQ(sq::read_file(p), big);
  sq::write_file_atomic(p, "{}");
  EXPECT_EQ(sq::read_file(p), "{}");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"f.json"});
}

TEST(AtomicFile, ErrorsNameThePath) {
  TempDir dir;
  expect_error([&] { sq::read_file(dir.file("absent")); }, SQ_ERR_IO, {dir.file("absent")});
  expect_error([&] { sq::read_file(dir.path()); }, SQ_ERR_IO, {dir.path(), "directory"});
  const std::string p = dir.file("no/such/dir/f");
  expect_error([&] { sq::write_file_atomic(p, "x"); }, SQ_ERR_IO, {"no/such/dir/f"});
  EXPECT_TRUE(dir.list().empty());
}

}  // namespace
