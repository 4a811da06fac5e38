// Spool regions in memory: small ones are read, large ones mapped; both give exactly the bytes
// asked for, at any offset, and the read budget is given back when they are released.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "engine/mapped_file.hh"

namespace ringrelay::engine {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = "/tmp/ringrelay-mapped-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string pattern(std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + i % 23);
  return text;
}

TEST(MappedFile, SmallRegionIsReadAndCounted) {
  std::string text = pattern(10000);
  std::string path = write_file("small", text);
  std::uint64_t before = MappedFile::bytes_read_held();
  {
    MappedFile f;
    ASSERT_EQ(f.map(path, 7, 5000), "");
    EXPECT_EQ(f.bytes(), std::string_view(text).substr(7, 5000));
    EXPECT_EQ(MappedFile::bytes_read_held(), before + 5000);
    MappedFile moved = std::move(f);
    EXPECT_EQ(moved.bytes(), std::string_view(text).substr(7, 5000));
  }
  EXPECT_EQ(MappedFile::bytes_read_held(), before);
  ::unlink(path.c_str());
}

TEST(MappedFile, LargeRegionIsMappedAtAnUnalignedOffset) {
  std::string text = pattern(MappedFile::kReadLimit * 3);
  std::string path = write_file("large", text);
  std::uint64_t before = MappedFile::bytes_read_held();
  MappedFile f;
  std::uint64_t size = MappedFile::kReadLimit * 2 + 123;
  ASSERT_EQ(f.map(path, 4097, size), "");
  EXPECT_EQ(f.bytes(), std::string_view(text).substr(4097, size));
  EXPECT_EQ(MappedFile::bytes_read_held(), before);  // mapped, not read
  ::unlink(path.c_str());
}

TEST(MappedFile, ShortFileIsRefusedWithTheReason) {
  std::string path = write_file("short", "0123456789");
  MappedFile f;
  EXPECT_EQ(f.map(path, 4, 10),
            path + " is 10 bytes, but the request says offset 4 size 10 (truncated spool file?)");
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace ringrelay::engine
