// The Applier's batch commits: what ends a batch, renames only after the data is synced,
// syncs pipelined under the next batch, and Acks held no longer than they must be.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <future>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "replication/applier_test_fixture.h"
#include "replication/content_hash.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using namespace applier_testing;  // NOLINT(google-build-using-namespace): the fixture

TEST_F(ApplierTest, BatchEndsOnlyForOperationsThatNeedTheStagedFilesInPlace) {
  StartBatchConversation();
  std::vector<Message> replies;
  uint64_t seq = 1;
  for (const char* dir : {"a", "b", "c"})
    ASSERT_TRUE(applier_->Handle(Mkdir{++seq, dir, 0755}, &replies).ok());
  replies.clear();
  WriteFile(D("c/x"), "x");
  calls_.syncfs_calls = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "a/f", "in a", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  // Elsewhere in the tree: a rename, an unlink, another directory's times, a new directory.
  ASSERT_TRUE(applier_->Handle(Rename{++seq, "c/x", "c/y"}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Unlink{++seq, "c/y"}, &replies).ok());
  SetMeta times_b = Meta("b", kMetaMtime, 0, 1'000'000'000);
  times_b.seq = ++seq;
  ASSERT_TRUE(applier_->Handle(times_b, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Mkdir{++seq, "a/sub", 0755}, &replies).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(calls_.syncfs_calls, 0);
  EXPECT_FALSE(Exists(D("a/f")));  // still staged
  // The times of the directory it goes into: the file goes in first (its rename would move
  // the directory's mtime again).
  SetMeta times_a = Meta("a", kMetaMtime, 0, 2'000'000'000);
  times_a.seq = ++seq;
  ASSERT_TRUE(applier_->Handle(times_a, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 1);
  EXPECT_EQ(ReadFile(D("a/f")), "in a");
  struct stat st {};
  ASSERT_EQ(::stat(D("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2);
  // Removing a directory above a staged file, or the file itself, sees it in place.
  batch = FileWithMeta(&seq, "a/sub/g", "in sub", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Rename{++seq, "a", "moved"}, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 2);
  EXPECT_EQ(ReadFile(D("moved/sub/g")), "in sub");
  batch = FileWithMeta(&seq, "b/h", "short-lived", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Unlink{++seq, "b/h"}, &replies).ok());
  EXPECT_EQ(calls_.syncfs_calls, 3);
  EXPECT_FALSE(Exists(D("b/h")));
  EXPECT_TRUE(replies.empty());
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, BatchDurabilityRenamesFilesInOnlyAfterTheirDataIsSynced) {
  StartBatchConversation();
  std::vector<Message> replies;
  ASSERT_TRUE(SendFile("old", "old content").ok());  // Apply(): stays staged
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Barrier{++seq_, true}, &replies).ok());
  EXPECT_EQ(ReadFile(D("old")), "old content");

  calls_.syncfs_calls = 0;
  calls_.renames_after_syncfs.clear();
  uint64_t seq = seq_;
  std::vector<Message> batch = FileWithMeta(&seq, "a", "alpha", Meta("", kMetaMode, 0640));
  for (Message& m : FileWithMeta(&seq, "b", "beta", Meta("", kMetaMode, 0600)))
    batch.push_back(std::move(m));
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  EXPECT_TRUE(replies.empty());
  // Complete and verified, but not in place until the batch ends.
  EXPECT_FALSE(Exists(D("a")));
  EXPECT_FALSE(Exists(D("b")));
  EXPECT_EQ(GeorepTempFiles(dest_.path()).size(), 2u);
  // A rename must see them in place: it ends the batch.
  ASSERT_TRUE(applier_->Handle(Rename{++seq, "a", "c"}, &replies).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(ReadFile(D("c")), "alpha");
  EXPECT_EQ(ReadFile(D("b")), "beta");
  ASSERT_GE(calls_.renames_after_syncfs.size(), 2u);
  EXPECT_GE(calls_.renames_after_syncfs[0], 1);  // the data was synced first
  EXPECT_GE(calls_.renames_after_syncfs[1], 1);

  // The sync fails: nothing goes into place, the file's own operation gets the error.
  batch = FileWithMeta(&seq, "old", "new content", Meta("", kMetaMode, 0644));
  const uint64_t meta_seq = seq;
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  calls_.syncfs_errno = EIO;
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Barrier{++seq, true}, &replies).ok());
  ASSERT_EQ(replies.size(), 3u);  // the file's Error, the Barrier's own Error, its Ack
  EXPECT_EQ(std::get<Error>(replies[0]).seq, meta_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kIO);
  EXPECT_EQ(ReadFile(D("old")), "old content");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  calls_.syncfs_errno = 0;

  // An agent that goes away with files staged leaves no temporary file behind.
  batch = FileWithMeta(&seq, "never", "acknowledged", Meta("", kMetaMode, 0644));
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  applier_.reset();
  EXPECT_FALSE(Exists(D("never")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, PipelinedCommitsLeaveEachSyncToRunUnderTheNextBatch) {
  StartBatchConversation();
  std::vector<Message> replies;
  calls_.syncfs_calls = 0;
  uint64_t seq = 1;

  // Batch 1, more of the stream at hand: its sync runs on; its file stays staged until the
  // sync is done, and its Ack waits.
  std::vector<Message> batch = FileWithMeta(&seq, "a", "alpha", Meta("", kMetaMode, 0644));
  const uint64_t barrier1 = ++seq;
  batch.push_back(Barrier{barrier1, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_FALSE(Exists(D("a")));
  EXPECT_TRUE(applier_->holding_ack());

  // Batch 2, with a failing operation: batch 1's file goes in at this Barrier (its sync is
  // done); Ack 1 now waits for batch 2's sync, which covers that rename; the Error and Ack 2
  // wait behind it.
  batch = FileWithMeta(&seq, "b", "beta", Meta("", kMetaMode, 0644));
  const uint64_t failing = ++seq;
  batch.push_back(Mkdir{failing, "missing/x", 0755});
  const uint64_t barrier2 = ++seq;
  batch.push_back(Barrier{barrier2, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(ReadFile(D("a")), "alpha");
  EXPECT_FALSE(Exists(D("b")));

  // Nothing more at hand: everything is synced and replied, in order.
  ASSERT_TRUE(applier_->HandleAll({}, &replies, false).ok());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Ack>(replies[0]).applied_seq, barrier1);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(std::get<Error>(replies[1]).seq, failing);
  EXPECT_EQ(std::get<Ack>(replies[2]).applied_seq, barrier2);
  EXPECT_TRUE(std::get<Ack>(replies[2]).durable);
  EXPECT_EQ(ReadFile(D("b")), "beta");
  EXPECT_FALSE(applier_->holding_ack());
  // One sync per batch, and one for the last renames -- two per batch would be four.
  EXPECT_EQ(calls_.syncfs_calls, 3);

  // A sync that fails: the file waiting for it gets the Error (its temporary file removed),
  // its Barrier too, and the Ack does not say durable.
  calls_.syncfs_errno = EIO;
  batch = FileWithMeta(&seq, "c", "gamma", Meta("", kMetaMode, 0644));
  const uint64_t file_c = seq;
  const uint64_t barrier3 = ++seq;
  batch.push_back(Barrier{barrier3, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  ASSERT_TRUE(applier_->HandleAll({}, &replies, false).ok());
  calls_.syncfs_errno = 0;
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, file_c);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kIO);
  EXPECT_EQ(std::get<Error>(replies[1]).seq, barrier3);
  EXPECT_EQ(std::get<Ack>(replies[2]).applied_seq, barrier3);
  EXPECT_FALSE(std::get<Ack>(replies[2]).durable);
  EXPECT_FALSE(Exists(D("c")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());

  // Without more input, a Barrier is durable at once: a sync for the data, one for the renames.
  calls_.syncfs_calls = 0;
  batch = FileWithMeta(&seq, "d", "delta", Meta("", kMetaMode, 0644));
  const uint64_t barrier4 = ++seq;
  batch.push_back(Barrier{barrier4, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, false).ok());
  EXPECT_EQ(calls_.syncfs_calls, 2);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(ReadFile(D("d")), "delta");
  EXPECT_FALSE(applier_->holding_ack());
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, TheNextBatchIsAppliedWhileTheSyncRuns) {
  StartBatchConversation();
  std::vector<Message> replies;
  uint64_t seq = 1;
  calls_.HoldSyncs(true);
  std::vector<Message> batch = FileWithMeta(&seq, "a", "alpha", Meta("", kMetaMode, 0644));
  batch.push_back(Barrier{++seq, true});
  std::vector<Message> next = FileWithMeta(&seq, "b", "beta", Meta("", kMetaMode, 0644));
  // Both calls return while the sync is held: batch 2's file is written meanwhile.
  auto applied = std::async(std::launch::async, [&] {
    return applier_->HandleAll(batch, &replies, true).ok() &&
           applier_->HandleAll(next, &replies, true).ok();
  });
  const bool returned = applied.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  EXPECT_TRUE(returned) << "the applier waited for the sync";
  EXPECT_TRUE(calls_.WaitForHeldSync());
  if (returned) {
    EXPECT_EQ(GeorepTempFiles(dest_.path()).size(), 2u);  // a's and b's, staged
  }
  calls_.HoldSyncs(false);
  ASSERT_TRUE(applied.get());
  ASSERT_TRUE(applier_->HandleAll({Barrier{++seq, true}}, &replies, false).ok());
  EXPECT_EQ(ReadFile(D("a")), "alpha");
  EXPECT_EQ(ReadFile(D("b")), "beta");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, AnAckIsNotHeldLongWhileALargeFileGoesOnWithoutABarrier) {
  StartBatchConversation();
  std::vector<Message> replies;
  uint64_t seq = 1;
  std::vector<Message> batch = FileWithMeta(&seq, "small", "small", Meta("", kMetaMode, 0644));
  const uint64_t barrier = ++seq;
  batch.push_back(Barrier{barrier, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  EXPECT_TRUE(replies.empty());
  // A large file follows, piece by piece, without a Barrier.
  const std::string part(64 << 10, 'L');
  ASSERT_TRUE(
      applier_->HandleAll({FileBegin{++seq, "large", 3 * part.size(), 0644}}, &replies, true).ok());
  clock_.Advance(Applier::kMaxHoldMillis / 2);
  ASSERT_TRUE(applier_->HandleAll({FileData{++seq, 0, part}}, &replies, true).ok());
  EXPECT_TRUE(replies.empty());  // not held long yet
  clock_.Advance(Applier::kMaxHoldMillis);
  ASSERT_TRUE(applier_->HandleAll({FileData{++seq, part.size(), part}}, &replies, true).ok());
  ASSERT_EQ(replies.size(), 1u);  // held too long: synced and replied
  EXPECT_EQ(std::get<Ack>(replies[0]).applied_seq, barrier);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(ReadFile(D("small")), "small");
  EXPECT_FALSE(applier_->holding_ack());
  // The large file goes on as before.
  const std::string whole = part + part + part;
  batch = {FileData{++seq, 2 * part.size(), part}, FileEnd{++seq, whole.size(), HashBytes(whole)},
           Barrier{++seq, true}};
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, false).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(std::get<Ack>(replies[0]).durable);
  EXPECT_EQ(ReadFile(D("large")), whole);
}

}  // namespace
}  // namespace georep::replication
