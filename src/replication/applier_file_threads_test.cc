// The Applier's small files on threads (ApplierOptions::file_threads): the outcome is the
// one of a single thread, on random streams and on the cases that must wait or fail.
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

// ---- files written on the file threads (ApplierOptions::file_threads) -----------------------

// A random stream of the operations a worker sends, over a few paths that collide often:
// files (whole, sparse, some damaged, some larger than a file thread takes, most with their
// SetMeta), directories, renames, links, removals, metadata and Barriers.
class RandomStream {
 public:
  explicit RandomStream(uint32_t seed) : rng_(seed) {}

  std::vector<Message> Make(size_t operations) {
    std::vector<Message> out;
    for (size_t i = 0; i < operations; ++i) Add(&out);
    // Every path gets known times and mode at the end: a directory's mtime is otherwise the
    // moment something changed in it.
    // (No xattrs there: a symlink takes none, and its times would stay unset.)
    out.push_back(Meta(".", false));
    for (std::string_view path : kPaths) out.push_back(Meta(std::string(path), false));
    out.push_back(Barrier{++seq_, true});
    return out;
  }

  static bool IsPath(std::string_view path) {
    return std::find(std::begin(kPaths), std::end(kPaths), path) != std::end(kPaths);
  }

 private:
  static constexpr std::string_view kPaths[] = {"a", "a/f", "a/g", "a/b", "a/b/f", "c", "c/f", "h"};

  std::string Path() { return std::string(kPaths[Pick(std::size(kPaths))]); }
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  SetMeta Meta(std::string path, bool xattrs = true) {
    SetMeta m;
    m.seq = ++seq_;
    m.path = std::move(path);
    m.fields = kMetaMode | kMetaMtime | (xattrs && Pick(4) == 0 ? kMetaXattrs : 0);
    m.mode = Pick(2) == 0 ? 0755 : 0640;
    m.mtime_ns = 1'600'000'000'000'000'000 + static_cast<int64_t>(Pick(1000)) * 1'000'000'007;
    if (m.fields & kMetaXattrs) m.xattrs = {{"user.k", std::to_string(Pick(10))}};
    return m;
  }

  void Add(std::vector<Message>* out) {
    switch (Pick(12)) {
      case 0:
      case 1:
        out->push_back(Mkdir{++seq_, Path(), 0755});
        break;
      case 2:
        out->push_back(Rename{++seq_, Path(), Path()});
        break;
      case 3:
        out->push_back(Pick(2) == 0 ? Message(Unlink{++seq_, Path()})
                                    : Message(Rmdir{++seq_, Path()}));
        break;
      case 4:
        out->push_back(Pick(2) == 0 ? Message(Hardlink{++seq_, Path(), Path()})
                                    : Message(Symlink{++seq_, Path(), "target"}));
        break;
      case 5:
        out->push_back(Meta(Pick(8) == 0 ? "." : Path()));
        break;
      case 6:
        out->push_back(Barrier{++seq_, Pick(2) == 0});
        break;
      default: {  // a file, the most common operation
        const size_t size = Pick(40) == 0 ? Applier::kFileJobBytes + 1 + Pick(5000) : Pick(9000);
        std::string content(size, '\0');
        for (char& c : content) c = static_cast<char>('a' + Pick(26));
        const size_t hole = Pick(4) == 0 ? std::min<size_t>(size, 100 + Pick(3000)) : 0;
        std::fill(content.begin(), content.begin() + static_cast<ptrdiff_t>(hole), '\0');
        const std::string path = Path();
        out->push_back(FileBegin{++seq_, path, size, 0644});
        for (size_t off = hole; off < size; off += 4096) {
          out->push_back(FileData{++seq_, off, content.substr(off, 4096)});
        }
        out->push_back(FileEnd{++seq_, size, HashBytes(Pick(10) == 0 ? content + "x" : content)});
        if (Pick(5) != 0) out->push_back(Meta(path));
      }
    }
  }

  std::mt19937 rng_;
  uint64_t seq_ = 0;
};

struct Conversation {
  std::vector<Message> acks;
  std::vector<std::string> errors;        // "seq code: message", in the order of seq
  std::vector<std::string> order_faults;  // an Error after the Ack of its batch
};

// Applies `stream` to `root` in random pieces (as the agent receives it) and collects the
// replies.
Conversation Converse(const std::string& root, Durability durability, size_t threads,
                      const std::vector<Message>& stream, uint32_t seed) {
  ApplierOptions options;
  options.durability = durability;
  options.file_threads = threads;
  auto applier = Applier::Open(root, options);
  EXPECT_TRUE(applier.ok()) << applier.status().ToString();
  Conversation c;
  if (!applier.ok()) return c;
  std::vector<Message> replies;
  EXPECT_TRUE((*applier)->Handle(Hello{1, 1, kCapXattrs, "w"}, &replies).ok());
  std::mt19937 rng(seed);
  for (size_t i = 0; i < stream.size();) {
    const size_t n = std::min(stream.size() - i, std::uniform_int_distribution<size_t>(1, 60)(rng));
    std::vector<Message> piece(stream.begin() + static_cast<ptrdiff_t>(i),
                               stream.begin() + static_cast<ptrdiff_t>(i + n));
    i += n;
    const bool more = i < stream.size() && rng() % 4 != 0;
    EXPECT_TRUE((*applier)->HandleAll(piece, &replies, more).ok());
  }
  uint64_t acked = 0;
  for (const Message& m : replies) {
    if (const auto* ack = std::get_if<Ack>(&m)) {
      c.acks.push_back(*ack);
      acked = ack->applied_seq;
    } else if (const auto* error = std::get_if<Error>(&m)) {
      if (error->seq <= acked) c.order_faults.push_back(error->message);
      c.errors.push_back(
          fmt::format("{:06} {}: {}", error->seq, static_cast<int>(error->code), error->message));
    }
  }
  std::sort(c.errors.begin(), c.errors.end());
  return c;
}

// DescribeTree(), without the mtime of entries a RandomStream gives none (moved beneath
// another path): that is when it was made, and differs from run to run.
std::vector<std::string> Described(const std::string& root) {
  std::vector<std::string> lines = DescribeTree(root);
  for (std::string& line : lines) {
    const std::string path = line.substr(0, line.find(' '));
    if (path == "." || RandomStream::IsPath(path)) continue;
    const size_t at = line.find(" mtime=");
    line.erase(at, line.find(' ', at + 1) - at);
  }
  return lines;
}

// The lines of `got` not in `want` and the other way round, each cut to 200 characters.
std::string TreeDifference(const std::vector<std::string>& got,
                           const std::vector<std::string>& want) {
  std::string out;
  for (const auto& [lines, other, sign] : {std::tuple(&got, &want, "+ "), {&want, &got, "- "}}) {
    for (const std::string& line : *lines) {
      if (std::find(other->begin(), other->end(), line) == other->end())
        out += sign + line.substr(0, 200) + "\n";
    }
  }
  return out;
}

class FileThreadsTest : public ::testing::TestWithParam<Durability> {};

TEST_P(FileThreadsTest, TheOutcomeIsTheSameAsOnOneThread) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  // GEOREP_SEED=N runs sequence N alone; GEOREP_SOAK_ROUNDS=N runs N sequences (25; the quick
  // tier, preset dev, runs 5; the full suite all 25).
  const char* seed_env = getenv("GEOREP_SEED");
  const char* rounds_env = getenv("GEOREP_SOAK_ROUNDS");
  const uint32_t first = seed_env != nullptr ? static_cast<uint32_t>(atoi(seed_env)) : 1;
  const uint32_t rounds = seed_env != nullptr     ? 1
                          : rounds_env != nullptr ? static_cast<uint32_t>(atoi(rounds_env))
                                                  : 25;
  size_t entries = 0;
  size_t errors = 0;
  for (uint32_t seed = first; seed < first + rounds; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    const std::vector<Message> stream = RandomStream(seed).Make(300);
    TempDir one;
    TempDir many;
    const Conversation expected = Converse(one.path(), GetParam(), 0, stream, seed);
    const Conversation got = Converse(many.path(), GetParam(), 3, stream, seed);
    const std::vector<std::string> tree = Described(one.path());
    ASSERT_EQ(Described(many.path()), tree) << TreeDifference(Described(many.path()), tree);
    ASSERT_EQ(got.acks, expected.acks);
    ASSERT_EQ(got.errors, expected.errors);
    EXPECT_TRUE(got.order_faults.empty()) << got.order_faults.front();
    EXPECT_TRUE(GeorepTempFiles(many.path()).empty());
    entries += DescribeTree(one.path()).size();
    errors += expected.errors.size();
  }
  // Not a test that cannot fail: the streams do fail and succeed at things.
  EXPECT_GT(entries, rounds * 3);
  EXPECT_GT(errors, rounds);
}

INSTANTIATE_TEST_SUITE_P(Durabilities, FileThreadsTest,
                         ::testing::Values(Durability::kNone, Durability::kBatch, Durability::kFile,
                                           Durability::kFileAndDirectory),
                         [](const auto& info) {
                           switch (info.param) {
                             case Durability::kNone:
                               return std::string("None");
                             case Durability::kBatch:
                               return std::string("Batch");
                             case Durability::kFile:
                               return std::string("File");
                             default:
                               return std::string("FileAndDirectory");
                           }
                         });

TEST_F(ApplierTest, FilesOnThreadsAreInPlaceBeforeWhatNeedsThem) {
  StartConversation(Durability::kFile, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch{Mkdir{++seq, "d", 0755}};
  for (int i = 0; i < 40; ++i) {
    for (Message& m : FileWithMeta(&seq, "d/f" + std::to_string(i), "content " + std::to_string(i),
                                   Meta("", kMetaMode | kMetaMtime, 0640, 1'000'000'000)))
      batch.push_back(std::move(m));
  }
  // Each of these needs a file above in place: the rename its file, the directory's times
  // every rename into it, the unlink the file it removes.
  batch.push_back(Rename{++seq, "d/f3", "moved"});
  batch.push_back(Unlink{++seq, "d/f4"});
  batch.push_back(Meta("d", kMetaMtime, 0, 2'000'000'000));
  std::get<SetMeta>(batch.back()).seq = ++seq;
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  ASSERT_TRUE(applier_->HandleAll({Barrier{++seq, false}}, &replies, false).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0] == Message(Ack{seq, false}));
  EXPECT_EQ(ReadFile(D("moved")), "content 3");
  EXPECT_FALSE(Exists(D("d/f3")));
  EXPECT_FALSE(Exists(D("d/f4")));
  EXPECT_EQ(ReadFile(D("d/f39")), "content 39");
  struct stat st {};
  ASSERT_EQ(::stat(D("d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 2);  // set after the last file went in
  ASSERT_EQ(::stat(D("d/f7").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

TEST_F(ApplierTest, AFileThatFailsOnAThreadIsRepliedAndLeavesNothing) {
  StartConversation(Durability::kBatch, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "kept", "old", Meta("", kMetaMode, 0644));
  batch.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(ReadFile(D("kept")), "old");

  // The destination is full: the write fails on the file's thread.
  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  batch = FileWithMeta(&seq, "kept", "new content", Meta("", kMetaMode, 0600));
  const uint64_t data_seq = std::get<FileData>(batch[1]).seq;
  batch.push_back(Barrier{++seq, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, data_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kNoSpace);
  EXPECT_TRUE(replies[1] == Message(Ack{seq, true}));
  EXPECT_EQ(ReadFile(D("kept")), "old");
  struct stat st {};
  ASSERT_EQ(::stat(D("kept").c_str(), &st), 0);
  // Its SetMeta is not applied to the old bytes (as on one thread): they keep their metadata.
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
  calls_.write_errno = 0;

  // Files still on their threads when the agent goes away leave no temporary file.
  batch.clear();
  for (int i = 0; i < 50; ++i) {
    for (Message& m :
         FileWithMeta(&seq, "gone" + std::to_string(i), "x", Meta("", kMetaMode, 0644)))
      batch.push_back(std::move(m));
  }
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  applier_.reset();
  EXPECT_FALSE(Exists(D("gone0")));
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

// A file on a thread whose FileEnd ends what HandleAll was given (the stream's next read has
// its SetMeta): when it fails, that SetMeta, handled on its own, leaves the old file be too --
// the old bytes never carry the new version's mtime and mode.
TEST_F(ApplierTest, AFileThatFailsOnAThreadKeepsItsMetadataWhenItsSetMetaComesLater) {
  StartConversation(Durability::kBatch, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch =
      FileWithMeta(&seq, "kept", "old", Meta("", kMetaMode | kMetaMtime, 0644, 1'000'000'000));
  batch.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(ReadFile(D("kept")), "old");

  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  batch = FileWithMeta(&seq, "kept", "new content",
                       Meta("", kMetaMode | kMetaMtime, 0600, 2'000'000'000));
  const Message meta = batch.back();
  batch.pop_back();  // FileBegin, FileData, FileEnd: one read; the SetMeta in the next
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies, true).ok());
  ASSERT_TRUE(applier_->HandleAll({meta, Barrier{++seq, true}}, &replies).ok());
  ASSERT_FALSE(replies.empty());
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kNoSpace);
  EXPECT_TRUE(replies.back() == Message(Ack{seq, true}));
  EXPECT_EQ(ReadFile(D("kept")), "old");
  struct stat st {};
  ASSERT_EQ(::stat(D("kept").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1) << "the old bytes carry the new version's mtime";
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(GeorepTempFiles(dest_.path()).empty());
}

// A file whose new content could not be written (the destination is full) still holds its
// old content: a link to it made now would give its new path that old content, while the
// worker records the new one there and never sends it again. The link is refused too, until
// the file is written.
TEST_F(ApplierTest, ALinkToAFileWhoseTransferFailedIsRefusedToo) {
  WriteFile(D("a"), "old");
  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  EXPECT_EQ(SendFile("a", "old and appended").code(), StatusCode::kIOError);
  Status linked = Apply(Hardlink{0, "a", "b"});
  EXPECT_FALSE(linked.ok());
  EXPECT_NE(linked.message().find("new content was not written"), std::string::npos)
      << linked.message();
  EXPECT_FALSE(Exists(D("b")));
  // Moved with its directory, it is still the old content (a sibling named like the
  // directory, sorting between it and what is inside, changes nothing).
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(Apply(Rename{0, "a", "d/a"}).ok());
  calls_.write_errno = 0;
  ASSERT_TRUE(SendFile("d-2", "written").ok());
  calls_.write_errno = ENOSPC;
  EXPECT_EQ(SendFile("d-2", "not written").code(), StatusCode::kIOError);
  ASSERT_TRUE(Apply(Rename{0, "d", "e"}).ok());
  EXPECT_FALSE(Apply(Hardlink{0, "e/a", "b"}).ok());
  EXPECT_FALSE(Apply(Hardlink{0, "d-2", "c"}).ok());
  // Written at last: links to it are made again.
  calls_.write_errno = 0;
  ASSERT_TRUE(SendFile("e/a", "old and appended").ok());
  ASSERT_TRUE(Apply(Hardlink{0, "e/a", "b"}).ok());
  EXPECT_EQ(ReadFile(D("b")), "old and appended");
}

TEST_F(ApplierTest, ALinkToAFileThatFailedOnAThreadIsRefusedToo) {
  StartConversation(Durability::kBatch, 2);
  std::vector<Message> replies;
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "a", "old", Meta("", kMetaMode, 0644));
  batch.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  calls_.write_errno = ENOSPC;
  calls_.write_budget = calls_.written;
  batch = FileWithMeta(&seq, "a", "old and appended", Meta("", kMetaMode, 0644));
  const uint64_t data_seq = std::get<FileData>(batch[1]).seq;
  batch.push_back(Hardlink{++seq, "a", "b"});
  const uint64_t link_seq = seq;
  batch.push_back(Barrier{++seq, true});
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, data_seq);
  EXPECT_EQ(std::get<Error>(replies[1]).seq, link_seq);
  EXPECT_TRUE(replies[2] == Message(Ack{seq, true}));
  EXPECT_EQ(ReadFile(D("a")), "old");
  EXPECT_FALSE(Exists(D("b")));
  // A later batch (the same pass) links to it: refused as well.
  batch = {Hardlink{++seq, "a", "c"}, Barrier{++seq, true}};
  replies.clear();
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(std::get<Error>(replies[0]).seq, seq - 1);
  EXPECT_FALSE(Exists(D("c")));
}

TEST_F(ApplierTest, WhatGoesBeneathAStagedFileFindsItInPlace) {
  // Whether the batch has ended must not change what happens: `a` is a file, so `a/g`
  // cannot be made, and says so, whether or not `a` is still under its temporary name.
  StartBatchConversation();
  uint64_t seq = 0;
  std::vector<Message> batch = FileWithMeta(&seq, "a", "a file", Meta("", kMetaMode, 0644));
  for (Message& m : FileWithMeta(&seq, "a/g", "beneath it", Meta("", kMetaMode, 0644)))
    batch.push_back(std::move(m));
  const uint64_t begin_seq = std::get<FileBegin>(batch[4]).seq;
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->HandleAll(batch, &replies).ok());
  ASSERT_EQ(replies.size(), 2u);  // the file's and its SetMeta's
  EXPECT_EQ(std::get<Error>(replies[0]).seq, begin_seq);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kInvalidPath);
  EXPECT_EQ(ReadFile(D("a")), "a file");
}

}  // namespace
}  // namespace georep::replication
