// Result streams and the journal's framing: records stay until acknowledged (never past what the
// caller says was sent), retention drops the oldest and says so, and a torn journal tail is cut at
// the last whole entry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/feed/result_stream.hh"
#include "engine/feed/results_journal.hh"

namespace ringrelay::engine {
namespace {

StreamRecord record(std::uint64_t seq) {
  return StreamRecord{seq, "{\"seq\":" + std::to_string(seq) + "}\n",
                      std::chrono::system_clock::now(), true, false};
}

TEST(ResultStreams, KeepsRecordsUntilAcknowledged) {
  ResultStreams streams(100, std::chrono::seconds(3600));
  for (std::uint64_t seq = 10; seq < 15; ++seq) streams.add("qm", record(seq));
  streams.add("other", record(15));
  EXPECT_EQ(streams.total(), 6u);
  EXPECT_EQ(streams.acknowledge("qm", 12), 3u);
  EXPECT_EQ(streams.records("qm").front().seq, 13u);
  EXPECT_EQ(streams.acknowledge("qm", 12), 0u);  // cumulative: nothing more
  EXPECT_EQ(streams.acknowledge("nobody", 99), 0u);
  EXPECT_EQ(streams.records("other").size(), 1u);  // another client's records are untouched
  EXPECT_EQ(streams.total(), 3u);
}

TEST(ResultStreams, RetentionDropsTheOldestAcrossClientsAndSaysSo) {
  ResultStreams streams(3, std::chrono::seconds(3600));
  std::vector<std::uint64_t> dropped;
  streams.on_drop = [&](const std::string&, const StreamRecord& r, const char* why) {
    dropped.push_back(r.seq);
    EXPECT_STREQ(why, "limit");
  };
  streams.add("b", record(2));
  streams.add("a", record(1 + 2));
  streams.add("a", record(4));
  streams.add("b", record(5));  // over the limit: seq 2, the oldest, goes
  EXPECT_EQ(dropped, std::vector<std::uint64_t>{2});
  EXPECT_EQ(streams.total(), 3u);
}

TEST(ResultStreams, ExpiresByAge) {
  ResultStreams streams(100, std::chrono::seconds(60));
  StreamRecord old = record(1);
  old.when -= std::chrono::seconds(61);
  streams.add("qm", old);
  streams.add("qm", record(2));
  int expired = 0;
  streams.on_drop = [&](const std::string&, const StreamRecord&, const char* why) {
    expired += std::string_view(why) == "expired";
  };
  streams.expire();
  EXPECT_EQ(expired, 1);
  EXPECT_EQ(streams.records("qm").front().seq, 2u);
}

TEST(ResultStreams, FlagsAreAddedInsideTheObject) {
  EXPECT_EQ(with_flag("{\"a\":1}\n", "redelivered"), "{\"a\":1,\"redelivered\":true}\n");
}

TEST(ResultsJournal, RecoversWholeEntriesAndCutsATornTail) {
  std::string dir = ::testing::TempDir() + "/journal-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string data;
  ResultsJournal::frame(data, "R\t1\tqm\t0\tr\tQ1\t0\t{}\n");
  ResultsJournal::frame(data, "A\tqm\t1");
  std::string torn;
  ResultsJournal::frame(torn, "X\t99");
  data += torn.substr(0, torn.size() - 2);  // a crash in the middle of a write
  std::ofstream(dir + "/results.000000000001", std::ios::binary) << data;
  {
    ResultsJournal journal({dir, true});
    auto recovered = journal.recover();
    ASSERT_EQ(recovered.entries.size(), 2u);
    EXPECT_EQ(recovered.entries[1], "A\tqm\t1");
    ASSERT_EQ(recovered.problems.size(), 1u);
    EXPECT_NE(recovered.problems[0].find("torn write"), std::string::npos);
    // A second instance cannot take the same journal.
    EXPECT_THROW(ResultsJournal({dir, true}), std::runtime_error);
  }
  std::string whole, joined;
  ResultsJournal::frame(whole, "R\t7\tqm\t{}\n");
  ResultsJournal::frame_fields(joined, {"R", "7", "qm", "{}\n"});
  EXPECT_EQ(whole, joined);  // the hot path's framing is the same bytes
  auto fields = journal_fields("A\tqm\t1");
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[1], "qm");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringrelay::engine
