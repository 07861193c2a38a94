// The Applier's conversation (Handle, HandleAll) and the copies that build a file from bytes
// already there: BlockCopy from the old version, SourceCopy from the source tree.
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

TEST_F(ApplierTest, HandleSpeaksTheConversation) {
  std::vector<Message> replies;
  // Nothing before Hello.
  EXPECT_FALSE(applier_->Handle(Mkdir{1, "a", 0755}, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kProtocol);

  Reopen();
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapZstd | (uint64_t{1} << 40), "w"}, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(std::get<HelloReply>(replies[0]).accepted);
  EXPECT_EQ(std::get<HelloReply>(replies[0]).capabilities, kCapZstd);
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Mkdir{1, "a", 0755}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Unlink{2, "../escape"}, &replies).ok());  // fails, stream goes on
  ASSERT_TRUE(applier_->Handle(Mkdir{3, "a/b", 0755}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(Barrier{4, false}, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);
  const auto& err = std::get<Error>(replies[0]);
  EXPECT_EQ(err.seq, 2u);
  EXPECT_EQ(err.code, ErrorCode::kInvalidPath);
  EXPECT_TRUE(replies[1] == Message(Ack{4, false}));
  EXPECT_TRUE(std::filesystem::is_directory(D("a/b")));
  // A second Hello breaks the stream.
  replies.clear();
  EXPECT_FALSE(applier_->Handle(Hello{}, &replies).ok());

  Reopen();
  replies.clear();
  EXPECT_FALSE(applier_->Handle(Hello{9, 9, 0, "future"}, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(std::get<HelloReply>(replies[0]).accepted);
}

// Found by the fault harness: a file whose new version did not fit kept its old bytes, but
// got the new version's mtime (its SetMeta applied on its own) -- and with it looked current
// to a reconciliation's quick check of size and mtime, for good. The old file keeps its
// metadata; the error has the worker send the version again, metadata and all.
TEST_F(ApplierTest, AFileWhoseNewVersionDidNotFitKeepsItsOldMetadataToo) {
  StartConversation(Durability::kBatch);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch =
      FileWithMeta(&seq, "f", "old bytes!", Meta("", kMetaMode | kMetaMtime, 0644, 1'000'000'000));
  batch.push_back(Barrier{++seq, false});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(ReadFile(D("f")), "old bytes!");

  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  // The same size, a new mtime: what an overwrite in place looks like.
  batch =
      FileWithMeta(&seq, "f", "new bytes!", Meta("", kMetaMode | kMetaMtime, 0600, 2'000'000'000));
  batch.push_back(Barrier{++seq, false});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_FALSE(replies.empty());
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kNoSpace);
  EXPECT_EQ(ReadFile(D("f")), "old bytes!");
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1) << "the old bytes carry the new version's mtime";
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, HandleAllPutsMetadataOnTheFileBeforeItsRename) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapXattrs, "w"}, &replies).ok());
  SetMeta meta{0,
               "",
               kMetaOwner | kMetaMode | kMetaAtime | kMetaMtime | kMetaXattrs,
               04751,
               1234,
               5678,
               1'600'000'000'111'222'333,
               1'500'000'000'987'654'321,
               {{"user.one", "1"}}};
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "f", "content", meta);
  batch.push_back(Barrier{++seq, false});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0] == Message(Ack{seq, false}));
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(ReadFile(D("f")), "content");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 04751u);  // setuid survives the chown before it
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987'654'321);
  EXPECT_EQ(st.st_atim.tv_nsec, 111'222'333);
  EXPECT_EQ(UserXattrs(D("f"))["user.one"], "1");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());

  // Metadata the agent refuses: the content still arrives, the error names the SetMeta.
  SetMeta bad = meta;
  bad.xattrs = {{"security.x", "1"}};
  batch = FileWithMeta(&seq, "g", "new content", bad);
  const uint64_t meta_seq = seq;
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, meta_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kUnsupported);
  EXPECT_EQ(ReadFile(D("g")), "new content");

  // Content that arrives damaged: the old file stays, metadata and all (the SetMeta describes
  // the version that did not arrive), and the error names the FileEnd.
  batch = FileWithMeta(&seq, "f", "replacement", meta);
  std::get<FileEnd>(batch[2]).hash = HashBytes("something else");
  const uint64_t end_seq = std::get<FileEnd>(batch[2]).seq;
  std::get<SetMeta>(batch[3]).mode = 0640;
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, end_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kHashMismatch);
  EXPECT_EQ(ReadFile(D("f")), "content");
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04751u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  EXPECT_EQ(applier_->applied_seq(), seq);
}

TEST_F(ApplierTest, DirectoriesMovedOrReplacedBetweenFilesAreFollowed) {
  // The applier keeps the last parent directory open between operations; a directory moved,
  // removed or replaced in between must not keep receiving files under its old path.
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/one", "1").ok());
  ASSERT_TRUE(Apply(Rename{0, "a", "b"}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/two", "2").ok());
  EXPECT_EQ(ReadFile(D("b/one")), "1");
  EXPECT_EQ(ReadFile(D("a/two")), "2");
  EXPECT_FALSE(Exists(D("b/two")));

  ASSERT_TRUE(Apply(Unlink{0, "a/two"}).ok());
  ASSERT_TRUE(Apply(Rmdir{0, "a"}).ok());
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/three", "3").ok());
  EXPECT_EQ(ReadFile(D("a/three")), "3");

  // A file where the directory was (removed as what is in the way), then a directory again.
  ASSERT_TRUE(SendFile("a", "now a file").ok());
  EXPECT_EQ(ReadFile(D("a")), "now a file");
  ASSERT_TRUE(Apply(Mkdir{0, "a", 0755}).ok());
  ASSERT_TRUE(SendFile("a/four", "4").ok());
  EXPECT_EQ(ReadFile(D("a/four")), "4");
  EXPECT_EQ(DescribeTree(dest_.path()).size(), 5u);  // ., a, a/four, b, b/one
}

TEST_F(ApplierTest, BlockCopyBuildsTheNewVersionFromTheOldOne) {
  const std::string old_version = "0123456789abcdefghij";
  ASSERT_TRUE(SendFile("f", old_version).ok());
  // New version: "abcde" (copied from offset 10) + "XY" + "0123" (copied from offset 0).
  const std::string now = "abcdeXY0123";
  ASSERT_TRUE(Apply(FileBegin{0, "f", now.size(), 0644}).ok());
  ASSERT_TRUE(Apply(BlockCopy{0, 0, 10, 5}).ok());
  ASSERT_TRUE(Apply(FileData{0, 5, "XY"}).ok());
  ASSERT_TRUE(Apply(BlockCopy{0, 7, 0, 4}).ok());
  EXPECT_EQ(ReadFile(D("f")), old_version);  // nothing visible before FileEnd
  ASSERT_TRUE(Apply(FileEnd{0, now.size(), HashBytes(now)}).ok());
  EXPECT_EQ(ReadFile(D("f")), now);

  // The destination's copy is not what the worker thinks (shorter): refused, left unchanged.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 100, 0644}).ok());
  Status st = Apply(BlockCopy{0, 0, 5, 50});
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kHashMismatch);
  ASSERT_TRUE(Apply(FileData{0, 50, "skipped"}).ok());
  ASSERT_TRUE(Apply(FileEnd{0, 57, HashBytes("whatever")}).ok());
  EXPECT_EQ(ReadFile(D("f")), now);
  // ... or has other content: FileEnd's hash catches it.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 4, 0644}).ok());
  ASSERT_TRUE(Apply(BlockCopy{0, 0, 0, 4}).ok());
  EXPECT_EQ(Apply(FileEnd{0, 4, HashBytes("zzzz")}).code(), StatusCode::kCorruption);
  EXPECT_EQ(ReadFile(D("f")), now);
  // No earlier version at all.
  ASSERT_TRUE(Apply(FileBegin{0, "new", 4, 0644}).ok());
  EXPECT_EQ(Apply(BlockCopy{0, 0, 0, 4}).code(), StatusCode::kNotFound);
  ASSERT_TRUE(Apply(FileEnd{0, 4, HashBytes("abcd")}).ok());
  EXPECT_FALSE(Exists(D("new")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  // Outside a transfer, or going backwards, it breaks the protocol.
  EXPECT_EQ(Apply(BlockCopy{0, 0, 0, 1}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(applier_->stream_broken());
}

TEST_F(ApplierTest, SourceCopyTakesTheBytesFromTheSourceTreeAndVerifiesThem) {
  TempDir source;
  std::mt19937_64 rng(5);
  std::string content(9u << 20, '\0');  // more than one in-kernel chunk (8 MiB)
  for (char& c : content) c = static_cast<char>(rng());
  WriteFile(source / "f", content);
  ApplierOptions options;
  options.source_root = source.path();
  Reopen(options);

  // In pieces at unaligned offsets, copied in the kernel and hashed where they landed.
  ASSERT_TRUE(Apply(FileBegin{0, "f", content.size(), 0644}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 0, 5000}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 5000, content.size() - 5000}).ok());
  EXPECT_FALSE(Exists(D("f")));  // nothing visible before FileEnd
  ASSERT_TRUE(Apply(FileEnd{0, content.size(), HashBytes(content)}).ok());
  EXPECT_EQ(ReadFile(D("f")), content);
  EXPECT_GE(calls_.in_kernel_copies, 3);

  // The source was rewritten after the worker read it: its hash differs from the copy's.
  WriteFile(source / "f", "a newer version");
  ASSERT_TRUE(Apply(FileBegin{0, "f", 15, 0644}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 0, 15}).ok());
  EXPECT_EQ(Apply(FileEnd{0, 15, HashBytes("the version read")}).code(), StatusCode::kCorruption);
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kSourceChanged);
  EXPECT_EQ(ReadFile(D("f")), content);
  // ... or it shrank: refused at once, the rest of the transfer skipped.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 100, 0644}).ok());
  EXPECT_FALSE(Apply(SourceCopy{0, 0, 100}).ok());
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kSourceChanged);
  ASSERT_TRUE(Apply(FileEnd{0, 100, HashBytes("whatever")}).ok());
  EXPECT_EQ(ReadFile(D("f")), content);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());

  // A symlink in the source is never followed out of it.
  WriteFile(outside_ / "secret", "secret");
  ASSERT_EQ(::symlink((outside_ / "secret").c_str(), (source / "link").c_str()), 0);
  ASSERT_TRUE(Apply(FileBegin{0, "link", 6, 0644}).ok());
  EXPECT_FALSE(Apply(SourceCopy{0, 0, 6}).ok());
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kSourceChanged);
  ASSERT_TRUE(Apply(FileEnd{0, 6, HashBytes("secret")}).ok());
  EXPECT_FALSE(Exists(D("link")));

  // Where the kernel cannot copy between the files, the bytes are read and written.
  calls_.copy_errno = EXDEV;
  WriteFile(source / "g", "read and written");
  ASSERT_TRUE(Apply(FileBegin{0, "g", 16, 0600}).ok());
  ASSERT_TRUE(Apply(SourceCopy{0, 0, 16}).ok());
  ASSERT_TRUE(Apply(FileEnd{0, 16, HashBytes("read and written")}).ok());
  EXPECT_EQ(ReadFile(D("g")), "read and written");
}

TEST_F(ApplierTest, SourceCopyOnAFullDestinationIsNoSpaceAndLeavesNoTemp) {
  TempDir source;
  WriteFile(source / "f", "0123456789");
  WriteFile(D("f"), "old content");
  ApplierOptions options;
  options.source_root = source.path();
  Reopen(options);
  calls_.copy_errno = ENOSPC;
  ASSERT_TRUE(Apply(FileBegin{0, "f", 10, 0644}).ok());
  Status st = Apply(SourceCopy{0, 0, 10});
  EXPECT_NE(st.message().find("destination file system is full"), std::string::npos)
      << st.message();
  EXPECT_EQ(applier_->last_error_code(), ErrorCode::kNoSpace);
  ASSERT_TRUE(Apply(FileEnd{0, 10, HashBytes("0123456789")}).ok());
  EXPECT_EQ(ReadFile(D("f")), "old content");
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, SourceCopyIsOfferedOnlyWithASourceRoot) {
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapabilitiesSupported, "w"}, &replies).ok());
  EXPECT_EQ(std::get<HelloReply>(replies[0]).capabilities & kCapSourceCopy, 0u);
  // Sent anyway, it breaks the protocol.
  ASSERT_TRUE(Apply(FileBegin{0, "f", 1, 0644}).ok());
  EXPECT_EQ(Apply(SourceCopy{0, 0, 1}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(applier_->stream_broken());

  TempDir source;
  ApplierOptions options;
  options.source_root = source.path();
  Reopen(options);
  replies.clear();
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapabilitiesSupported, "w"}, &replies).ok());
  EXPECT_NE(std::get<HelloReply>(replies[0]).capabilities & kCapSourceCopy, 0u);
}

}  // namespace
}  // namespace georep::replication
