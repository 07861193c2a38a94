// The Applier's SetMeta: mode, times, owner, xattrs and ACLs, and the xattr namespaces a
// session manages.
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

TEST_F(ApplierTest, SetsModeTimesAndXattrs) {
  ASSERT_TRUE(SendFile("f", "x").ok());
  SetMeta m{0,
            "f",
            kMetaMode | kMetaAtime | kMetaMtime | kMetaXattrs,
            04751,
            0,
            0,
            1'600'000'000'111'222'333,
            1'500'000'000'987'654'321,
            {{"user.one", "1"}, {"user.bin", std::string("\0\x01\xff", 3)}}};
  ASSERT_TRUE(Apply(m).ok());
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04751u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987'654'321);
  EXPECT_EQ(st.st_atim.tv_nsec, 111'222'333);
  auto x = UserXattrs(D("f"));
  EXPECT_EQ(x.size(), 2u);
  EXPECT_EQ(x["user.bin"], std::string("\0\x01\xff", 3));
  // The xattr list is complete: user.one goes, user.two comes.
  m.xattrs = {{"user.two", "2"}};
  ASSERT_TRUE(Apply(m).ok());
  x = UserXattrs(D("f"));
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x["user.two"], "2");
  // Times before 1970 and the root itself.
  ASSERT_TRUE(Apply(Meta(".", kMetaMtime, 0, -1'500'000'000)).ok());
  ASSERT_EQ(::stat(dest_.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'000);
  // A namespace the agent does not replicate is refused, not ignored.
  EXPECT_EQ(Apply(SetMeta{0, "f", kMetaXattrs, 0, 0, 0, 0, 0, {{"security.x", "1"}}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Apply(Meta("missing", kMetaMode, 0600)).code(), StatusCode::kNotFound);
}

TEST_F(ApplierTest, SetsOwnerWhenPrivileged) {
  // The suite runs as root (scripts/test.sh); chown needs it.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_TRUE(SendFile("f", "x").ok());
  SetMeta owner = Meta("f", kMetaOwner | kMetaMode, 02755);
  owner.uid = 1234;
  owner.gid = 5678;
  ASSERT_TRUE(Apply(owner).ok());
  struct stat st {};
  ASSERT_EQ(::stat(D("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 02755u);  // the mode survives chown clearing setgid
  ASSERT_TRUE(Apply(SetMeta{0, "f", kMetaXattrs, 0, 0, 0, 0, 0, {{"trusted.t", "v"}}}).ok());
  char buf[8];
  EXPECT_EQ(::lgetxattr(D("f").c_str(), "trusted.t", buf, sizeof buf), 1);
}

// ACLs and capabilities go on after the owner and the mode: chown clears
// security.capability, chmod rewrites the access ACL's mask. Applied again (a replay, or a
// metadata change) they still hold; on a new file too (HandleAll's shortcut), where an ACL
// inherited from the directory's default ACL goes when the source's file has none.
TEST_F(ApplierTest, AclsAndCapabilitiesSurviveTheOwnerAndModeSetBeforeThem) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (security.capability needs it)";
  ASSERT_TRUE(Apply(Mkdir{0, "d", 0755}).ok());
  ASSERT_TRUE(SendFile("d/f", "x").ok());
  SetMeta file = Meta("d/f", kMetaOwner | kMetaMode | kMetaXattrs, 0640);
  file.uid = 1234;
  file.gid = 5678;
  file.xattrs = {{"security.capability", testing::NetBindServiceCapability()},
                 {"system.posix_acl_access", testing::SampleAccessAcl()},
                 {"trusted.origin", "site-a"},
                 {"user.u", "1"}};
  SetMeta dir = Meta("d", kMetaMode | kMetaXattrs, 0770);
  dir.xattrs = {{"system.posix_acl_default", testing::SampleDefaultAcl()}};
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(Apply(file).ok());
    ASSERT_TRUE(Apply(dir).ok());
    EXPECT_EQ(testing::XattrOf(D("d/f"), "security.capability"),
              testing::NetBindServiceCapability())
        << "round " << round;
    EXPECT_EQ(testing::XattrOf(D("d/f"), "system.posix_acl_access"), testing::SampleAccessAcl());
    EXPECT_EQ(testing::XattrOf(D("d/f"), "trusted.origin"), "site-a");
    EXPECT_EQ(testing::XattrOf(D("d"), "system.posix_acl_default"), testing::SampleDefaultAcl());
    struct stat st {};
    ASSERT_EQ(::stat(D("d/f").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_uid, 1234u);
  }
  // The source's file lost its ACL and capability: so does the destination's.
  file.xattrs = {{"user.u", "1"}};
  ASSERT_TRUE(Apply(file).ok());
  EXPECT_EQ(testing::XattrOf(D("d/f"), "system.posix_acl_access"), "<none>");
  EXPECT_EQ(testing::XattrOf(D("d/f"), "security.capability"), "<none>");
  EXPECT_EQ(testing::XattrOf(D("d/f"), "trusted.origin"), "<none>");

  // New files in the directory (which has a default ACL now), through HandleAll.
  ApplierOptions batch;
  batch.durability = Durability::kBatch;
  Reopen(batch);
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, kCapabilitiesSupported, "w"}, &replies).ok());
  ASSERT_EQ(std::get<HelloReply>(replies[0]).capabilities & (kCapAcls | kCapPrivilegedXattrs),
            kCapAcls | kCapPrivilegedXattrs);
  replies.clear();
  const std::string content = "#!/bin/true\n";
  SetMeta plain = Meta("d/plain", kMetaMode | kMetaOwner | kMetaXattrs, 0750);
  SetMeta capable = Meta("d/capable", kMetaMode | kMetaOwner | kMetaXattrs, 0755);
  capable.uid = 1234;
  capable.xattrs = {{"security.capability", testing::NetBindServiceCapability()}};
  uint64_t seq = 1;
  std::vector<Message> stream;
  for (SetMeta* m : {&plain, &capable}) {
    stream.push_back(FileBegin{++seq, m->path, content.size(), 0600});
    stream.push_back(FileData{++seq, 0, content});
    stream.push_back(FileEnd{++seq, content.size(), HashBytes(content)});
    m->seq = ++seq;
    stream.push_back(*m);
  }
  stream.push_back(Barrier{++seq, true});
  ASSERT_TRUE(applier_->HandleAll(stream, &replies).ok());
  for (const Message& r : replies) EXPECT_FALSE(std::holds_alternative<Error>(r));
  EXPECT_EQ(testing::XattrOf(D("d/plain"), "system.posix_acl_access"), "<none>")
      << "the ACL inherited from the directory's default ACL stayed";
  EXPECT_EQ(testing::XattrOf(D("d/capable"), "security.capability"),
            testing::NetBindServiceCapability());
  struct stat st {};
  ASSERT_EQ(::stat(D("d/plain").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

// A worker that does not sync ACLs (or a root-only namespace to an agent that is not root):
// the agent neither sets them nor removes the destination's own.
TEST_F(ApplierTest, ManagesOnlyTheXattrNamespacesOfTheSession) {
  ApplierOptions options;
  options.privileged = false;
  Reopen(options);
  std::vector<Message> replies;
  ASSERT_TRUE(
      applier_->Handle(Hello{1, 1, kCapabilitiesSupported & ~kCapAcls, "w"}, &replies).ok());
  const uint64_t common = std::get<HelloReply>(replies[0]).capabilities;
  EXPECT_EQ(common & (kCapAcls | kCapPrivilegedXattrs | kCapDevices), 0u);
  EXPECT_NE(common & kCapSpecialFiles, 0u);
  ASSERT_TRUE(applier_->Handle(FileBegin{2, "f", 1, 0644}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(FileData{3, 0, "x"}, &replies).ok());
  ASSERT_TRUE(applier_->Handle(FileEnd{4, 1, HashBytes("x")}, &replies).ok());
  const std::string acl = testing::SampleAccessAcl();
  ASSERT_EQ(::setxattr(D("f").c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0), 0);
  SetMeta m = Meta("f", kMetaXattrs);
  m.seq = 5;
  m.xattrs = {{"user.u", "1"}};
  replies.clear();
  ASSERT_TRUE(applier_->Handle(m, &replies).ok());
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(testing::XattrOf(D("f"), "system.posix_acl_access"), acl);
  // Sent anyway, a namespace the session did not agree on is refused, not dropped.
  m.seq = 6;
  m.xattrs = {{"system.posix_acl_access", acl}};
  ASSERT_TRUE(applier_->Handle(m, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(std::get<Error>(replies[0]).code, ErrorCode::kUnsupported);
  m.seq = 7;
  m.xattrs = {{"trusted.t", "v"}};
  replies.clear();
  ASSERT_TRUE(applier_->Handle(m, &replies).ok());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_NE(std::get<Error>(replies[0]).message.find("needs root"), std::string::npos);
}

}  // namespace
}  // namespace georep::replication
