// End to end: scan a source tree, send it, decode the bytes in arbitrary chunks, apply them,
// and require the destination to be identical in content and metadata.
#include "replication/sender.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "replication/applier.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::BindUnixSocket;
using testing::DescribeTree;
using testing::GeorepTempFiles;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

void SetTimes(const std::string& path, int64_t sec, long nsec) {
  struct timespec ts[2] = {{sec - 100, 0}, {sec, nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A tree with everything version 1 carries.
void BuildSource(const TempDir& src) {
  ASSERT_EQ(::mkdir((src / "docs").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src / "docs/deep").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((src / "docs/deep/er").c_str(), 02775), 0);
  ::chmod((src / "docs/deep/er").c_str(), 02775);
  ASSERT_EQ(::mkdir((src / "readonly").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src / "empty dir").c_str(), 0755), 0);
  WriteFile(src / "empty", "");
  WriteFile(src / "one", "1");
  WriteFile(src / "docs/big.bin", RandomBytes((3u << 20) + 12345, 1));  // several chunks
  WriteFile(src / "docs/deep/er/text", std::string(200000, 'a'));       // compressible
  WriteFile(src / "readonly/inside", "can't touch this");
  WriteFile(src / "docs/with\nnewline and spaces", "odd name");
  ::chmod((src / "one").c_str(), 04711);
  ::chmod((src / "empty").c_str(), 0600);
  // Sparse: data, 5 MiB hole, data, trailing hole.
  {
    int fd = ::open((src / "sparse").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "begin", 5, 0), 5);
    ASSERT_EQ(::pwrite(fd, "middle", 6, 5 << 20), 6);
    ASSERT_EQ(::ftruncate(fd, 9 << 20), 0);
    ::close(fd);
  }
  ASSERT_EQ(::link((src / "one").c_str(), (src / "docs/one-again").c_str()), 0);
  ASSERT_EQ(::link((src / "one").c_str(), (src / "docs/deep/one-thrice").c_str()), 0);
  ASSERT_EQ(::symlink("../one", (src / "docs/rel").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (src / "abs").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (src / "docs/dangling").c_str()), 0);
  ASSERT_EQ(::setxattr((src / "docs/big.bin").c_str(), "user.checksum", "abc", 3, 0), 0);
  ASSERT_EQ(::setxattr((src / "docs").c_str(), "user.dir", "", 0, 0), 0);
  ASSERT_EQ(::setxattr((src / "one").c_str(), "user.bin", "\0\1\2", 3, 0), 0);
  if (::geteuid() == 0) {  // owners are replicated only by a root agent
    ASSERT_EQ(::lchown((src / "docs/big.bin").c_str(), 1234, 5678), 0);
    ASSERT_EQ(::lchown((src / "abs").c_str(), 4321, 8765), 0);
    ASSERT_EQ(::lchown((src / "docs/deep").c_str(), 1, 2), 0);
  }
  int64_t t = 1'600'000'000;
  for (const char* p :
       {"empty", "one", "docs/big.bin", "docs/deep/er/text", "readonly/inside", "sparse",
        "docs/rel", "abs", "docs/dangling", "docs/with\nnewline and spaces"}) {
    SetTimes(src / p, t++, 123'456'789);
  }
  ::chmod((src / "readonly").c_str(), 0555);
  for (const char* p : {"docs/deep/er", "docs/deep", "docs", "readonly", "empty dir", "."}) {
    SetTimes(src / p, t++, 987'654'321);
  }
}

struct Transfer {
  SendReport report;
  std::vector<Message> replies;
};

// Scan `src`, send it with `options`, feed the bytes to an Applier on `dst` in random chunks.
// `peer`: the capabilities the sender is told both sides have; `applier`: the agent's options.
Transfer Replicate(const std::string& src, const std::string& dst, SenderOptions options,
                   uint32_t seed, uint64_t peer = 0, ApplierOptions applier_options = {},
                   std::map<std::string, std::string>* dropped = nullptr) {
  Transfer t;
  auto scan = ScanTreeToVector(src, {.threads = 3, .read_xattrs = peer == 0});
  EXPECT_TRUE(scan.ok());
  EXPECT_TRUE(scan->errors.empty());
  StringFrameSink sink;
  auto sender = TreeSender::Open(src, &sink, options);
  EXPECT_TRUE(sender.ok());
  EXPECT_TRUE((*sender)->SendHello(kCapabilitiesSupported, "georep test").ok());
  if (peer != 0) (*sender)->SetPeerCapabilities(peer);
  EXPECT_TRUE((*sender)->SendTree(scan->entries, &t.report).ok());
  EXPECT_TRUE((*sender)->SendBarrier(true).ok());
  if (dropped != nullptr) *dropped = (*sender)->PrivilegedXattrsDropped();

  auto applier = Applier::Open(dst, applier_options);
  EXPECT_TRUE(applier.ok());
  Decoder decoder;
  std::mt19937 rng(seed);
  std::string_view bytes = sink.data;
  while (!bytes.empty()) {
    size_t n = std::min<size_t>(bytes.size(), 1 + rng() % 100000);
    std::vector<Message> messages;
    Status st = decoder.Feed(bytes.substr(0, n), &messages);
    EXPECT_TRUE(st.ok()) << st.ToString();
    bytes.remove_prefix(n);
    for (const Message& m : messages) {
      Status h = (*applier)->Handle(m, &t.replies);
      EXPECT_TRUE(h.ok()) << h.ToString();
    }
  }
  EXPECT_TRUE(decoder.AtFrameBoundary());
  EXPECT_EQ((*applier)->applied_seq(), (*sender)->last_seq());
  return t;
}

void ExpectIdentical(const std::string& src, const std::string& dst) {
  std::vector<std::string> a = DescribeTree(src);
  std::vector<std::string> b = DescribeTree(dst);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    // Compare without dumping megabytes of content on failure.
    EXPECT_TRUE(a[i] == b[i]) << "source: " << a[i].substr(0, 300)
                              << "\n  dest: " << b[i].substr(0, 300);
  }
}

TEST(SenderTest, ReplicatesATreeExactly) {
  TempDir src, dst;
  BuildSource(src);
  Transfer t = Replicate(src.path(), dst.path(), {}, 1);
  ASSERT_EQ(t.replies.size(), 2u);  // HelloReply and the Ack: no errors
  EXPECT_TRUE(std::get<HelloReply>(t.replies[0]).accepted);
  EXPECT_TRUE(std::get<Ack>(t.replies[1]).durable);
  EXPECT_TRUE(t.report.skipped.empty());
  EXPECT_EQ(t.report.hardlinks, 2u);
  EXPECT_EQ(t.report.symlinks, 3u);
  EXPECT_EQ(t.report.files, 7u);
  ExpectIdentical(src.path(), dst.path());
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
  struct stat st {};
  ASSERT_EQ(::stat((dst / "sparse").c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // holes stayed holes
}

TEST(SenderTest, ReplicatesWithCompressionAndSmallChunks) {
  TempDir src, dst;
  BuildSource(src);
  Transfer t = Replicate(src.path(), dst.path(), {.chunk_bytes = 4096, .compress = true}, 2);
  EXPECT_EQ(t.replies.size(), 2u);
  ExpectIdentical(src.path(), dst.path());
}

TEST(SenderTest, ReplayingTheStreamConverges) {
  TempDir src, dst;
  BuildSource(src);
  (void)Replicate(src.path(), dst.path(), {}, 3);
  // Stale leftovers a crashed agent or a diverged destination may hold.
  ::chmod((dst / "readonly").c_str(), 0755);
  WriteFile(dst / "readonly/.georep.inside.00000000000000aa.tmp", "half a file");
  ::chmod((dst / "readonly").c_str(), 0555);
  WriteFile(dst / "one", "diverged");  // breaks the hard link group on purpose
  Transfer t = Replicate(src.path(), dst.path(), {}, 4);
  EXPECT_EQ(t.replies.size(), 2u);
  ExpectIdentical(src.path(), dst.path());
  EXPECT_TRUE(GeorepTempFiles(dst.path()).empty());
}

// Everything beyond files, directories and symlinks: ACLs, capabilities, trusted.*, FIFOs,
// devices, and a socket.
void BuildSpecialSource(const TempDir& src) {
  ASSERT_EQ(::mkdir((src / "shared").c_str(), 0770), 0);
  WriteFile(src / "shared/f", "x");
  WriteFile(src / "tool", "#!/bin/true\n");
  ::chmod((src / "shared/f").c_str(), 0640);
  ::chmod((src / "tool").c_str(), 0755);
  auto set = [](const std::string& path, const char* name, const std::string& value) {
    ASSERT_EQ(::lsetxattr(path.c_str(), name, value.data(), value.size(), 0), 0)
        << name << " of " << path << ": " << strerror(errno);
  };
  set(src / "shared/f", "system.posix_acl_access", testing::SampleAccessAcl());
  set(src / "shared", "system.posix_acl_default", testing::SampleDefaultAcl());
  set(src / "tool", "security.capability", testing::NetBindServiceCapability());
  set(src / "tool", "trusted.origin", "site-a");
  ASSERT_EQ(::mkfifo((src / "fifo").c_str(), 0620), 0);
  ::chmod((src / "fifo").c_str(), 0620);  // past the umask
  ASSERT_EQ(::mknod((src / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  EXPECT_EQ(BindUnixSocket(src / "sock"), "");
}

TEST(SenderTest, MakesFifosAndDevicesAndSaysWhyASocketIsNotReplicated) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (devices, capabilities need it)";
  TempDir src, dst;
  ASSERT_NO_FATAL_FAILURE(BuildSpecialSource(src));
  Transfer t = Replicate(src.path(), dst.path(), {.read_privileged_xattrs = true}, 7,
                         kCapabilitiesSupported);
  for (const Message& r : t.replies)
    EXPECT_FALSE(std::holds_alternative<Error>(r)) << std::get<Error>(r).message;
  EXPECT_TRUE(t.report.skipped.empty());
  ASSERT_EQ(t.report.not_replicated.size(), 1u);
  EXPECT_EQ(t.report.not_replicated[0].path, "sock");
  EXPECT_NE(t.report.not_replicated[0].status.message().find("Unix socket"), std::string::npos);
  EXPECT_EQ(t.report.special_files, 2u);
  struct stat st {};
  ASSERT_EQ(::lstat((dst / "fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  ASSERT_EQ(::lstat((dst / "null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_FALSE(testing::Exists(dst / "sock"));
  for (const auto& [path, name] :
       std::vector<std::pair<std::string, const char*>>{{"shared/f", "system.posix_acl_access"},
                                                        {"shared", "system.posix_acl_default"},
                                                        {"tool", "security.capability"},
                                                        {"tool", "trusted.origin"}}) {
    EXPECT_EQ(testing::XattrOf(dst / path, name), testing::XattrOf(src / path, name))
        << name << " of " << path;
    EXPECT_NE(testing::XattrOf(dst / path, name), "<none>") << name << " of " << path;
  }
}

// An entry renamed away between the scan and its SetMeta: its xattrs cannot be read, the
// SetMeta goes without them -- and the sender says so, else the entry (the same file at its
// new path) would be recorded with its xattrs as sent (an ACL lost after a kill, found by the
// fault harness).
TEST(SenderTest, ASetMetaWhoseXattrsVanishedIsReported) {
  TempDir src;
  ASSERT_EQ(::mkdir((src / "d").c_str(), 0755), 0);
  WriteFile(src / "d/f", "x");
  ASSERT_EQ(::setxattr((src / "d/f").c_str(), "user.k", "v", 1, 0), 0);
  auto scan = ScanTreeToVector(src.path(), {.threads = 1, .read_xattrs = false});
  ASSERT_TRUE(scan.ok());
  const ScanEntry* f = nullptr;
  for (const auto& e : scan->entries)
    if (e.path == "d/f") f = &e;
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(::rename((src / "d").c_str(), (src / "e").c_str()), 0);
  StringFrameSink sink;
  auto sender = TreeSender::Open(src.path(), &sink, {});
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->SendMeta(*f).ok());
  auto errors = (*sender)->TakeMetaErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "d/f");
  EXPECT_EQ(errors[0].status.code(), StatusCode::kNotFound);
}

// An agent that is not root: no device, no trusted.* or security.capability -- each counted
// with its reason, nothing refused; ACLs still travel.
TEST(SenderTest, WhatAnAgentThatIsNotRootCannotTakeIsCountedNotRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (devices, capabilities need it)";
  TempDir src, dst;
  ASSERT_NO_FATAL_FAILURE(BuildSpecialSource(src));
  ApplierOptions unprivileged;
  unprivileged.privileged = false;
  std::map<std::string, std::string> dropped;
  Transfer t = Replicate(src.path(), dst.path(), {.read_privileged_xattrs = true}, 8,
                         kCapabilitiesSupported & ~(kCapPrivilegedXattrs | kCapDevices),
                         unprivileged, &dropped);
  for (const Message& r : t.replies)
    EXPECT_FALSE(std::holds_alternative<Error>(r)) << std::get<Error>(r).message;
  EXPECT_TRUE(t.report.skipped.empty());
  ASSERT_EQ(t.report.not_replicated.size(), 2u);
  EXPECT_EQ(t.report.not_replicated[0].path, "null");
  EXPECT_NE(t.report.not_replicated[0].status.message().find("not root"), std::string::npos);
  EXPECT_EQ(t.report.not_replicated[1].path, "sock");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped.begin()->first, "tool");
  EXPECT_NE(dropped.begin()->second.find("security.capability"), std::string::npos);
  EXPECT_NE(dropped.begin()->second.find("not root"), std::string::npos);
  EXPECT_EQ(std::filesystem::symlink_status(dst / "fifo").type(), std::filesystem::file_type::fifo);
  EXPECT_EQ(testing::XattrOf(dst / "shared/f", "system.posix_acl_access"),
            testing::SampleAccessAcl());
  EXPECT_EQ(testing::XattrOf(dst / "tool", "security.capability"), "<none>");
}

}  // namespace
}  // namespace georep::replication
