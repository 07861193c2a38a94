#include "replication/agent.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "replication/content_hash.h"
#include "replication/test_util.h"
#include "replication/wire.h"

namespace georep::replication {
namespace {

using testing::ReadFile;
using testing::TempDir;

// Counts syncfs calls; with `gated`, each waits until the test opens the gate.
class GatedCalls final : public FileSystemCalls {
 public:
  int Syncfs(int fd) override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !gated_; });
    return FileSystemCalls::Syncfs(fd);
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    gated_ = true;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    gated_ = false;
    changed_.notify_all();
  }
  bool WaitEntered(int at_least) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return entered_ >= at_least; });
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mutex_);
    return entered_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool gated_ = false;
  int entered_ = 0;
};

// One agent conversation over two pipes, served on a thread.
class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::pipe2(to_agent_, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(from_agent_, O_CLOEXEC), 0);
  }
  void TearDown() override {
    CloseInput();
    if (agent_.joinable()) agent_.join();
    for (int fd : {to_agent_[0], from_agent_[0], from_agent_[1]})
      if (fd >= 0) ::close(fd);
  }

  void Start() {
    AgentOptions options;
    options.root = dest_.path();
    options.applier.durability = Durability::kBatch;
    options.calls = &calls_;
    agent_ = std::thread([this, options] {
      result_ = ServeAgent(to_agent_[0], from_agent_[1], options);
      ::close(from_agent_[1]);
      from_agent_[1] = -1;
    });
  }
  void CloseInput() {
    if (to_agent_[1] >= 0) ::close(to_agent_[1]);
    to_agent_[1] = -1;
  }

  // Encodes what a worker sends: the handshake, or a file and its batch's durable Barrier.
  void Hello() { Append(replication::Hello{1, 1, 0, "agent-test"}); }
  uint64_t FileBatch(const std::string& path, const std::string& content) {
    Append(FileBegin{++seq_, path, content.size(), 0644});
    for (size_t off = 0; off < content.size(); off += 64 << 10)
      Append(FileData{++seq_, off, content.substr(off, 64 << 10)});
    Append(FileEnd{++seq_, content.size(), HashBytes(content)});
    Append(Barrier{++seq_, true});
    return seq_;
  }
  void Append(const Message& m) { ASSERT_TRUE(encoder_.Append(m, &pending_).ok()); }
  void Send() {
    std::string_view rest = pending_;
    while (!rest.empty()) {
      ssize_t n = ::write(to_agent_[1], rest.data(), rest.size());
      ASSERT_GT(n, 0) << strerror(errno);
      rest.remove_prefix(static_cast<size_t>(n));
    }
    pending_.clear();
  }

  // Replies read until `count` have come (20 s at most).
  std::vector<Message> Replies(size_t count) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (replies_.size() < count && std::chrono::steady_clock::now() < until) {
      pollfd p{from_agent_[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(from_agent_[0], buffer, sizeof buffer);
      if (n <= 0) break;
      EXPECT_TRUE(decoder_.Feed(std::string_view(buffer, static_cast<size_t>(n)), &replies_).ok());
    }
    return replies_;
  }

  TempDir dest_;
  GatedCalls calls_;
  int to_agent_[2] = {-1, -1};
  int from_agent_[2] = {-1, -1};
  std::thread agent_;
  Status result_ = Status::Ok();
  Encoder encoder_;
  Decoder decoder_;
  std::string pending_;
  std::vector<Message> replies_;
  uint64_t seq_ = 1;  // the Hello's
};

TEST_F(AgentTest, AStreamAlreadyAtHandIsCommittedWithOneSyncPerBatch) {
  Hello();
  std::vector<uint64_t> barriers;
  barriers.reserve(3);
  for (int i = 0; i < 3; ++i)
    barriers.push_back(FileBatch("f" + std::to_string(i), std::string(1000 + i, 'a' + i)));
  Send();
  CloseInput();
  Start();
  agent_.join();
  ASSERT_TRUE(result_.ok()) << result_.ToString();
  std::vector<Message> replies = Replies(4);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_TRUE(std::get<HelloReply>(replies[0]).accepted);
  for (int i = 0; i < 3; ++i) {
    const auto& ack = std::get<Ack>(replies[1 + i]);
    EXPECT_EQ(ack.applied_seq, barriers[i]);
    EXPECT_TRUE(ack.durable);
    EXPECT_EQ(ReadFile(dest_ / ("f" + std::to_string(i))), std::string(1000 + i, 'a' + i));
  }
  // Each batch's data sync also serves the Barrier before it; only the last syncs alone:
  // 4 syncs, where a sync per Barrier on top of each batch's own would make 6.
  EXPECT_EQ(calls_.entered(), 4);
}

TEST_F(AgentTest, NoAckIsHeldBackWhileTheWorkerWaitsForIt) {
  Start();
  Hello();
  const uint64_t first = FileBatch("a", "alpha");
  Send();
  std::vector<Message> replies = Replies(2);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(std::get<Ack>(replies[1]).applied_seq, first);
  EXPECT_TRUE(std::get<Ack>(replies[1]).durable);
  const uint64_t second = FileBatch("b", "beta");
  Send();
  replies = Replies(3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(std::get<Ack>(replies[2]).applied_seq, second);
  EXPECT_TRUE(std::get<Ack>(replies[2]).durable);
  CloseInput();
  agent_.join();
  EXPECT_TRUE(result_.ok()) << result_.ToString();
}

TEST_F(AgentTest, TheWorkerGoesOnSendingWhileTheAgentSyncs) {
  calls_.Close();
  Start();
  Hello();
  FileBatch("first", "first");
  Send();
  ASSERT_TRUE(calls_.WaitEntered(1));  // the agent is in its sync, held there
  // 4 MiB more: 64 times what a pipe holds. Without reading ahead, this writer would wait
  // for the sync to end.
  std::vector<uint64_t> barriers;
  barriers.reserve(4);
  for (int i = 0; i < 4; ++i)
    barriers.push_back(FileBatch("big" + std::to_string(i), std::string(1 << 20, 'x')));
  std::atomic<bool> written{false};
  std::thread writer([&] {
    Send();
    written = true;
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!written && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(written.load()) << "the worker's writes waited for the agent's sync";
  EXPECT_EQ(calls_.entered(), 1);  // still in the first sync
  calls_.Open();
  writer.join();
  CloseInput();
  agent_.join();
  ASSERT_TRUE(result_.ok()) << result_.ToString();
  std::vector<Message> replies = Replies(6);
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_EQ(std::get<Ack>(replies.back()).applied_seq, barriers.back());
  EXPECT_TRUE(std::get<Ack>(replies.back()).durable);
  EXPECT_EQ(ReadFile(dest_ / "big3"), std::string(1 << 20, 'x'));
}

// A ListTree is answered in stream order: after what came before it is applied, before what
// follows it; the listing says what the destination holds, with inode and link count.
TEST_F(AgentTest, AListTreeIsAnsweredInStreamOrder) {
  Start();
  Append(replication::Hello{1, kProtocolVersion, 0, "agent-test"});
  Append(Mkdir{++seq_, "d", 0755});
  const uint64_t first = FileBatch("d/f", "content");
  Append(ListTree{7, "."});
  Append(Mkdir{++seq_, "later", 0755});
  Append(Barrier{++seq_, true});
  Send();
  std::vector<Message> replies = Replies(4);
  CloseInput();
  agent_.join();
  ASSERT_TRUE(result_.ok()) << result_.ToString();
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(std::get<HelloReply>(replies[0]).version, kProtocolVersion);
  EXPECT_EQ(std::get<Ack>(replies[1]).applied_seq, first);
  const auto& listing = std::get<TreeListing>(replies[2]);
  EXPECT_EQ(listing.id, 7u);
  EXPECT_TRUE(listing.last);
  EXPECT_TRUE(listing.error.empty()) << listing.error;
  std::vector<std::string> paths;
  for (const ListedEntry& e : listing.entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{".", "d", "d/f"}));
  EXPECT_EQ(listing.entries[2].size, 7u);
  EXPECT_EQ(listing.entries[2].nlink, 1u);
  EXPECT_NE(listing.entries[2].ino, 0u);
  EXPECT_EQ(std::get<Ack>(replies[3]).applied_seq, seq_);
}

// The listing comes in bounded parts, the last one flagged; the applier's temporary files are
// not part of it; links show as one inode; a path that is not there lists empty.
TEST(ListDestination, ListsMetadataInBoundedPartsWithoutTemporaryFiles) {
  TempDir dest;
  std::filesystem::create_directories(dest / "many");
  for (size_t i = 0; i < kMaxListedEntries + 10; ++i)
    std::ofstream(dest / ("many/f" + std::to_string(i))) << i;
  std::ofstream(dest / "many/.georep.f1.0123456789abcdef.tmp") << "in flight";
  std::filesystem::create_hard_link(dest / "many/f1", dest / "link");
  std::filesystem::create_symlink("many/f2", dest / "sym");
  std::vector<TreeListing> parts;
  ASSERT_TRUE(ListDestination(dest.path(), ListTree{3, "."}, [&](TreeListing part) {
                parts.push_back(std::move(part));
                return Status::Ok();
              }).ok());
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_FALSE(parts[0].last);
  EXPECT_TRUE(parts[1].last);
  std::map<std::string, ListedEntry> all;
  for (const TreeListing& p : parts) {
    EXPECT_EQ(p.id, 3u);
    EXPECT_LE(p.entries.size(), kMaxListedEntries);
    for (const ListedEntry& e : p.entries) all[e.path] = e;
  }
  EXPECT_EQ(all.size(), kMaxListedEntries + 10 + 4);  // ".", many, link, sym
  EXPECT_FALSE(all.count("many/.georep.f1.0123456789abcdef.tmp"));
  EXPECT_EQ(all.at("link").ino, all.at("many/f1").ino);
  EXPECT_EQ(all.at("link").nlink, 2u);
  EXPECT_EQ(all.at("sym").target, "many/f2");

  parts.clear();
  ASSERT_TRUE(ListDestination(dest.path(), ListTree{4, "nothing/here"}, [&](TreeListing part) {
                parts.push_back(std::move(part));
                return Status::Ok();
              }).ok());
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_TRUE(parts[0].last);
  EXPECT_TRUE(parts[0].entries.empty());
  EXPECT_TRUE(parts[0].error.empty());
}

}  // namespace
}  // namespace georep::replication
