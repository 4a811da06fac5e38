// The spool reader as the feed's trust boundary for files: only regular files beneath
// spool_directories are read, links and ".." cannot lead out, FIFOs do not block, and the bytes are
// a copy (a file truncated afterwards changes nothing, and its budget is given back on release);
// a body waits in its open file until load(), which says so if the file was cut meanwhile, unless
// too many wait already.
#include "engine/feed/spool_reader.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ringrelay::engine {
namespace {

struct SpoolDir : ::testing::Test {
  std::string root =
      std::filesystem::path(::testing::TempDir() + "/spool-reader-" + std::to_string(::getpid()))
          .lexically_normal()
          .string();
  std::string spool = root + "/spool";
  void SetUp() override {
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(spool + "/sub");
    std::ofstream(spool + "/sub/msg") << "HEADERSSubject: x\n\nbody\n";
    std::ofstream(root + "/secret") << "root:secret\n";
  }
  void TearDown() override { std::filesystem::remove_all(root); }
  std::string read(const std::string& path, std::uint64_t offset, std::uint64_t size,
                   SpoolBody& body,
                   std::uint64_t max_files_waiting = SpoolReader::kMaxFilesWaiting) {
    std::vector<std::string> warnings;
    SpoolReader reader({spool}, warnings, max_files_waiting);
    EXPECT_TRUE(warnings.empty());
    auto problem = reader.read(path, offset, size, body);
    if (!problem) return "";
    // The field: where the path leads is body.path's fault, what was found is body's.
    return (problem->about_path ? "body.path: " : "body: ") + problem->message;
  }
};

TEST_F(SpoolDir, ReadsARegionBeneathTheSpoolAndCountsItsBytes) {
  std::uint64_t before = SpoolBody::bytes_held();
  {
    SpoolBody body;
    ASSERT_EQ(read(spool + "/sub/msg", 7, 17, body), "");
    ASSERT_EQ(body.load(), std::nullopt);
    EXPECT_EQ(body.bytes(), "Subject: x\n\nbody\n");
    EXPECT_EQ(SpoolBody::bytes_held(), before + 17);
    // A copy: truncating the file afterwards changes nothing (and cannot raise SIGBUS).
    ::truncate((spool + "/sub/msg").c_str(), 0);
    SpoolBody moved = std::move(body);
    EXPECT_EQ(moved.bytes(), "Subject: x\n\nbody\n");
  }
  EXPECT_EQ(SpoolBody::bytes_held(), before);
}

TEST_F(SpoolDir, ReadingABodyLeavesItsAccessTimeAlone) {
  // An access time older than the modification time: relatime would update it on a read.
  std::string path = spool + "/sub/msg";
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  timespec times[2] = {{before.st_mtim.tv_sec - 1000, 0}, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  SpoolBody body;
  ASSERT_EQ(read(path, 0, 10, body), "");
  ASSERT_EQ(body.load(), std::nullopt);  // the bytes are read here
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_atim.tv_sec, before.st_mtim.tv_sec - 1000);  // O_NOATIME: the files' owner
}

TEST_F(SpoolDir, RefusesPathsOutsideTheSpool) {
  SpoolBody body;
  EXPECT_EQ(read("/etc/shadow", 0, 1, body),
            "body.path: /etc/shadow is not under spool_directories (" + spool + ")");
  EXPECT_EQ(read(spool + "/../secret", 0, 1, body),
            "body.path: " + spool + "/../secret resolves outside spool_directories");
  std::filesystem::create_directory_symlink(root, spool + "/escape");
  EXPECT_EQ(read(spool + "/escape/secret", 0, 1, body),
            "body.path: " + spool + "/escape/secret resolves outside spool_directories");
  std::filesystem::create_symlink(root + "/secret", spool + "/link");
  EXPECT_EQ(read(spool + "/link", 0, 1, body), "body.path: " + spool + "/link is a symbolic link");
  EXPECT_TRUE(body.bytes().empty());
}

TEST_F(SpoolDir, RefusesWhatIsNotARegularFileWithoutBlocking) {
  SpoolBody body;
  ASSERT_EQ(::mkfifo((spool + "/fifo").c_str(), 0600), 0);
  EXPECT_EQ(read(spool + "/fifo", 0, 1, body),
            "body.path: " + spool + "/fifo is not a regular file");
  EXPECT_EQ(read(spool + "/sub", 0, 1, body), "body.path: " + spool + "/sub is not a regular file");
  EXPECT_EQ(read(spool + "/missing", 0, 1, body),
            "body: cannot open " + spool + "/missing: No such file or directory");
}

TEST_F(SpoolDir, RefusesAShortFileWithTheReason) {
  SpoolBody body;
  EXPECT_EQ(read(spool + "/sub/msg", 7, 100, body),
            "body: " + spool +
                "/sub/msg is 24 bytes, but the request says offset 7 size 100 (truncated "
                "spool file?)");
}

TEST_F(SpoolDir, ABodyWaitsInItsOpenFileUntilLoaded) {
  const std::string large(100 * 1024, 'L');
  std::ofstream(spool + "/large") << large;
  std::uint64_t bytes_before = SpoolBody::bytes_held();
  std::uint64_t files_before = SpoolBody::files_waiting();
  {
    SpoolBody body;
    ASSERT_EQ(read(spool + "/large", 0, large.size(), body), "");
    EXPECT_TRUE(body.waiting());
    EXPECT_TRUE(body.bytes().empty());
    // Counted from acceptance, so the feed's memory limit holds before the read.
    EXPECT_EQ(SpoolBody::bytes_held(), bytes_before + large.size());
    EXPECT_EQ(SpoolBody::files_waiting(), files_before + 1);
    // Renamed over: the open file is still the one that was checked.
    std::ofstream(spool + "/other") << "replacement\n";
    std::filesystem::rename(spool + "/other", spool + "/large");
    SpoolBody moved = std::move(body);
    EXPECT_EQ(moved.load(), std::nullopt);
    EXPECT_FALSE(moved.waiting());
    EXPECT_EQ(moved.bytes(), large);
    EXPECT_EQ(SpoolBody::files_waiting(), files_before);
    EXPECT_EQ(moved.load(), std::nullopt);  // once read, load() does nothing
  }
  EXPECT_EQ(SpoolBody::bytes_held(), bytes_before);
  EXPECT_EQ(SpoolBody::files_waiting(), files_before);
}

TEST_F(SpoolDir, ABodyTruncatedBeforeItsReadSaysSo) {
  const std::string large(1000, 'L');
  std::ofstream(spool + "/large") << large;
  std::uint64_t bytes_before = SpoolBody::bytes_held();
  {
    SpoolBody body;
    ASSERT_EQ(read(spool + "/large", 0, large.size(), body), "");
    ::truncate((spool + "/large").c_str(), 10);
    EXPECT_EQ(body.load(), spool + "/large ended early (truncated while being read?)");
    EXPECT_FALSE(body.waiting());
    EXPECT_TRUE(body.bytes().empty());
    // Released without a leak, a waiting body too.
    SpoolBody unread;
    std::ofstream(spool + "/large2") << large;
    ASSERT_EQ(read(spool + "/large2", 0, large.size(), unread), "");
  }
  EXPECT_EQ(SpoolBody::bytes_held(), bytes_before);
}

TEST_F(SpoolDir, BeyondTheWaitingLimitABodyIsReadAtOnce) {
  std::uint64_t files_before = SpoolBody::files_waiting();
  SpoolBody first, second;
  ASSERT_EQ(read(spool + "/sub/msg", 7, 17, first, files_before + 1), "");
  EXPECT_TRUE(first.waiting());
  ASSERT_EQ(read(spool + "/sub/msg", 7, 17, second, files_before + 1), "");
  EXPECT_FALSE(second.waiting());
  EXPECT_EQ(second.bytes(), "Subject: x\n\nbody\n");
  EXPECT_EQ(SpoolBody::files_waiting(), files_before + 1);
}

TEST(SpoolReader, NamesDirectoriesItCannotOpen) {
  std::vector<std::string> warnings;
  SpoolReader reader({"/nonexistent/ringrelay-spool", "relative"}, warnings);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0],
            "spool_directories: /nonexistent/ringrelay-spool: No such file or directory; bodies "
            "by path under it are refused");
}

}  // namespace
}  // namespace ringrelay::engine
