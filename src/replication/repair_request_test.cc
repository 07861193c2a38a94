#include "replication/repair_request.h"

#include <gtest/gtest.h>

#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::TempDir;

RepairRequest Sample() {
  RepairRequest r;
  r.id = "repair-7";
  r.stale = {"a", "dir", "odd\nname"};
  r.missing = {"gone/file"};
  r.extra = {{"extra", EntryType::kRegular}, {"extra-dir", EntryType::kDirectory}};
  return r;
}

TEST(RepairRequestTest, RoundTripsAnyPath) {
  auto back = DecodeRepairRequest(EncodeRepairRequest(Sample()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, Sample());
  auto empty = DecodeRepairRequest(EncodeRepairRequest(RepairRequest{}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(RepairRequestTest, RefusesWhatIsNotARequest) {
  using namespace std::string_literals;
  for (const std::string& bad : {""s, "GRREPAIR 2\nx\n"s, "GRREPAIR 1\n"s, "GRREPAIR 1\nid\nXa\0"s,
                                 "GRREPAIR 1\nid\nS../etc\0"s, "GRREPAIR 1\nid\nS/etc\0"s,
                                 "GRREPAIR 1\nid\nSno-end"s, "GRREPAIR 1\nid\nD9a\0"s}) {
    auto r = DecodeRepairRequest(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << bad;
  }
}

TEST(RepairRequestTest, FromAVerifyReport) {
  VerifyReport report;
  report.differences = {
      {"a", "content differs", "", DifferenceKind::kDiffers, EntryType::kRegular},
      {"a", "mode 644 at the source, 600 at the destination", "", DifferenceKind::kDiffers,
       EntryType::kRegular},
      {"dir", "modified at 1 ns at the source, 2 ns at the destination", "",
       DifferenceKind::kDiffers, EntryType::kDirectory},
      {"gone/file", "missing at the destination", "", DifferenceKind::kMissing, EntryType::kOther},
      {"secret", "cannot be read at the source: denied", "", DifferenceKind::kUnreadable,
       EntryType::kOther},
      {"extra", "only at the destination", "absent", DifferenceKind::kOnlyAtDestination,
       EntryType::kRegular},
      {"extra-dir", "only at the destination", "absent", DifferenceKind::kOnlyAtDestination,
       EntryType::kDirectory},
  };
  RepairRequest r = RepairRequestFromVerify(report, "repair-7");
  EXPECT_EQ(r.id, "repair-7");
  EXPECT_EQ(r.stale, (std::vector<std::string>{"a", "dir"}));
  EXPECT_EQ(r.missing, (std::vector<std::string>{"gone/file"}));
  EXPECT_EQ(r.extra, Sample().extra);
}

TEST(RepairRequestTest, MarksTheIndexSoAFullPassResendsAndDeletes) {
  SyncedIndex index;
  IndexEntry file;
  file.type = EntryType::kRegular;
  file.mtime_ns = 5;
  IndexEntry dir;
  dir.type = EntryType::kDirectory;
  dir.mtime_ns = 6;
  index["a"] = file;
  index["dir"] = dir;
  index["gone/file"] = file;
  index["untouched"] = file;
  const SyncedIndex before = index;
  RepairRequest r = Sample();
  r.stale.push_back("not-in-the-index");
  const std::vector<IndexDelta> deltas = ApplyRepairRequest(r, &index);
  EXPECT_EQ(index.at("a").mtime_ns, -1);    // not known to be current: sent again
  EXPECT_EQ(index.at("dir").mtime_ns, -1);  // its metadata too
  EXPECT_FALSE(index.count("gone/file"));   // sent as new
  EXPECT_FALSE(index.count("not-in-the-index"));
  EXPECT_EQ(index.at("untouched"), before.at("untouched"));
  ASSERT_TRUE(index.count("extra"));  // the pass deletes what the source does not have
  EXPECT_EQ(index.at("extra").type, EntryType::kRegular);
  EXPECT_EQ(index.at("extra-dir").type, EntryType::kDirectory);
  // The deltas say the same, for the index's log.
  SyncedIndex replayed = before;
  for (const IndexDelta& d : deltas) ApplyDelta(d, &replayed);
  EXPECT_EQ(replayed, index);
}

TEST(RepairRequestTest, WrittenReadAndRemovedInTheStateDirectory) {
  TempDir state;
  EXPECT_EQ(ReadRepairRequest(state.path()).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(WriteRepairRequest(state.path(), Sample()).ok());
  auto read = ReadRepairRequest(state.path());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, Sample());
  ASSERT_TRUE(RemoveRepairRequest(state.path()).ok());
  EXPECT_EQ(ReadRepairRequest(state.path()).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(RemoveRepairRequest(state.path()).ok());  // none: nothing to do
}

}  // namespace
}  // namespace georep::replication
