#include "replication/change_journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::TempDir;

TEST(ChangeJournal, RecordsAccumulateUntilCleared) {
  TempDir dir;
  ChangeJournal journal(dir.path());
  auto empty = journal.Load();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(journal.Append({{"a", "a/b"}, {"a/b/f", "c"}, {"a/b/f"}}).ok());
  ASSERT_TRUE(journal.Append({{"."}, {"name\nwith newline"}, {"name\nwith newline"}}).ok());
  ASSERT_TRUE(journal.Append({{}, {"only/an/entry"}, {}}).ok());
  ASSERT_TRUE(journal.Append({}).ok());  // nothing to record: nothing written
  auto loaded = ChangeJournal(dir.path()).Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->directories, (std::set<std::string>{".", "a", "a/b"}));
  EXPECT_EQ(loaded->entries,
            (std::set<std::string>{"a/b/f", "c", "name\nwith newline", "only/an/entry"}));
  EXPECT_EQ(loaded->written, (std::set<std::string>{"a/b/f", "name\nwith newline"}));
  ASSERT_TRUE(journal.Clear().ok());
  loaded = journal.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->empty());
}

TEST(ChangeJournal, ATornLastRecordIsDropped) {
  TempDir dir;
  ChangeJournal journal(dir.path());
  ASSERT_TRUE(journal.Append({{"first"}, {}, {}}).ok());
  ASSERT_TRUE(journal.Append({{"second"}, {"second/file"}, {"second/file"}}).ok());
  const std::string path = dir.path() + "/journal";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  ASSERT_EQ(::truncate(path.c_str(), st.st_size - 3), 0);  // killed while appending
  auto loaded = journal.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->directories, (std::set<std::string>{"first"}));
  EXPECT_TRUE(loaded->entries.empty());
  EXPECT_TRUE(loaded->written.empty());
}

}  // namespace
}  // namespace georep::replication
