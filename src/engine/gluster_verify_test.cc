// Verify of gluster sessions: the parsers of what a node prints (find -printf records and
// sha256sum lines, odd names included), the choice of files to hash, and
// SessionVerifier::VerifySession on nodes faked at the process seam -- each node's "mounted volume"
// is a directory here, on which the real find and sha256sum run, so the records parsed are
// those the tools really print. The same runs against real GlusterFS in
// tests/integration/gluster_*_test.cc.
#include "engine/gluster_verify.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>

#include "engine/operations.h"
#include "engine/test_support/directory_nodes.h"
#include "engine/test_support/lab_source.h"
#include "engine/test_support/scripted_cluster.h"
#include "replication/test_util.h"
#include "replication/verify.h"

namespace georep {
namespace {

using gluster_verify::ApplyDigests;
using gluster_verify::FilesToHash;
using gluster_verify::ParseDigests;
using gluster_verify::ParseListing;
using replication::DescribedEntry;
using replication::EntryType;
using replication::testing::TempDir;
using testing_support::DirectoryNodes;

std::string Record(std::string_view head, std::string_view path, std::string_view target = "") {
  std::string r(head);
  r.append(" ").append(path);
  r.push_back('\0');
  r.append(target);
  r.push_back('\0');
  return r;
}

TEST(GlusterVerifyParse, ReadsFindRecordsWithOddNamesAndKeepsTimesAsGsyncdDoes) {
  const std::string newline = "two\nlines";
  const std::string latin1 = "caf\xe9 \xff";  // not UTF-8
  std::string out = Record("f 644 0 0 5 1796557062.2972391140", "with space.txt") +
                    Record("d 755 1234 567 4096 1796557062.2856765310", "dir") +
                    Record("f 600 0 0 0 1577934245.1234567890", "dir/" + newline) +
                    Record("l 777 0 0 11 1796557062.3180645530", "link", "to a\nfile") +
                    Record("f 4755 0 0 1 -5.5000000000", latin1) +
                    Record("p 644 0 0 0 1796557062.0000000000", "fifo");
  auto d = ParseListing(out, 30);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->sample_percent, 30);
  EXPECT_TRUE(d->errors.empty());
  ASSERT_EQ(d->entries.size(), 6u);
  // Sorted by path.
  std::vector<std::string> paths;
  for (const auto& e : d->entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{latin1, "dir", "dir/" + newline, "fifo", "link",
                                             "with space.txt"}));
  const DescribedEntry& odd = d->entries[0];
  EXPECT_EQ(odd.type, EntryType::kRegular);
  EXPECT_EQ(odd.mode, S_IFREG | 04755u);
  EXPECT_EQ(odd.mtime_ns, -6'000'000'000);  // whole seconds, rounded down
  const DescribedEntry& dir = d->entries[1];
  EXPECT_EQ(dir.type, EntryType::kDirectory);
  EXPECT_EQ(dir.uid, 1234u);
  EXPECT_EQ(dir.gid, 567u);
  EXPECT_EQ(dir.mtime_ns, 0);  // a directory's time is not compared
  EXPECT_EQ(d->entries[2].mtime_ns, 1577934245'000'000'000);
  EXPECT_EQ(d->entries[2].size, 0u);
  EXPECT_EQ(d->entries[3].type, EntryType::kOther);
  const DescribedEntry& link = d->entries[4];
  EXPECT_EQ(link.type, EntryType::kSymlink);
  EXPECT_EQ(link.symlink_target, "to a\nfile");
  EXPECT_EQ(link.mtime_ns, 0);  // gsyncd does not keep a symlink's time
  EXPECT_EQ(d->entries[5].size, 5u);
  EXPECT_EQ(d->entries[5].mtime_ns, 1796557062'000'000'000);
  for (const auto& e : d->entries) EXPECT_FALSE(e.hashed);
}

TEST(GlusterVerifyParse, RefusesWhatIsNoListing) {
  const std::string good = Record("f 644 0 0 5 1.0", "a");
  for (const std::string& bad : {
           good.substr(0, good.size() - 1),        // the last field cut short
           good.substr(0, good.find('\0') + 1),    // no target field
           Record("f 644 0 0 5", "a"),             // a field missing: the path is the time
           Record("f 648 0 0 5 1.0", "a"),         // not octal
           Record("f 644 x 0 5 1.0", "a"),         // uid
           Record("f 644 0 0 -5 1.0", "a"),        // size
           Record("f 644 0 0 5 1.x", "a"),         // time
           Record("ff 644 0 0 5 1.0", "a"),        // type
           good + Record("d 755 0 0 5 1.0", "a"),  // twice
       }) {
    auto d = ParseListing(bad, 100);
    EXPECT_EQ(d.status().code(), StatusCode::kCorruption) << bad;
  }
  // A path verify cannot describe is an error of that side, not a broken listing.
  auto d = ParseListing(good + Record("f 644 0 0 5 1.0", "a/../b"), 100);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->entries.size(), 1u);
  ASSERT_EQ(d->errors.size(), 1u);
  EXPECT_EQ(d->errors[0].path, "a/../b");
  EXPECT_TRUE(ParseListing("", 100).ok());  // an empty volume
}

const std::string kDigestA = std::string(16, 'a') + std::string(16, 'b') + std::string(32, 'c');
const std::string kDigestB = std::string(64, 'f');

TEST(GlusterVerifyParse, ReadsSha256sumLinesAndUndoesItsEscapes) {
  const std::string root = "/run/georep/verify/gv0/";
  const std::string out = kDigestA + "  " + root + "plain name\n" + "\\" + kDigestB + "  " + root +
                          "new\\nline \\\\ back\\rcr\n" + kDigestA + " *" + root + "caf\xe9\n";
  auto d = ParseDigests(out, "/run/georep/verify/gv0");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ(d->at("plain name").low, 0xaaaaaaaaaaaaaaaau);
  EXPECT_EQ(d->at("plain name").high, 0xbbbbbbbbbbbbbbbbu);
  EXPECT_EQ(d->at("new\nline \\ back\rcr").low, 0xffffffffffffffffu);
  EXPECT_TRUE(d->count("caf\xe9"));

  for (const std::string& bad : {
           kDigestA + "  " + root + "cut",                  // no end of line
           kDigestA.substr(1) + "  " + root + "short\n",    // a short digest
           "g" + kDigestA.substr(1) + "  " + root + "x\n",  // not hex
           kDigestA + "  /elsewhere/x\n",                   // not below the mount point
           "\\" + kDigestA + "  " + root + "a\\tb\n",       // an escape sha256sum never writes
           kDigestA + "  " + root.substr(0, root.size() - 4) + "gv1/x\n",  // another volume
       }) {
    EXPECT_EQ(ParseDigests(bad, "/run/georep/verify/gv0").status().code(), StatusCode::kCorruption)
        << bad;
  }
}

DescribedEntry Entry(std::string path, EntryType type, uint64_t size) {
  DescribedEntry e;
  e.path = std::move(path);
  e.type = type;
  e.size = size;
  return e;
}

TEST(GlusterVerifyParse, BothSidesHashTheSameSampledFiles) {
  replication::TreeDescription src, dst;
  for (int i = 0; i < 400; ++i) {
    const std::string p = "f" + std::to_string(1000 + i);
    src.entries.push_back(Entry(p, EntryType::kRegular, 10));
    // A file missing, of another type or size at the destination is not worth hashing: its
    // difference shows without.
    if (i == 1) continue;
    dst.entries.push_back(
        Entry(p, i == 2 ? EntryType::kDirectory : EntryType::kRegular, i == 3 ? 11 : 10));
  }
  src.entries.push_back(Entry("g", EntryType::kSymlink, 1));
  dst.entries.push_back(Entry("g", EntryType::kSymlink, 1));

  const auto all = FilesToHash(src, dst, 100);
  EXPECT_EQ(all.size(), 397u);
  const auto some = FilesToHash(src, dst, 10);
  // The sample is the one directory sessions pick (a hash of the path), about a tenth.
  std::vector<std::string> expected;
  for (const auto& p : all)
    if (replication::SampledForVerify(p, 10)) expected.push_back(p);
  EXPECT_EQ(some, expected);
  EXPECT_GT(some.size(), 15u);
  EXPECT_LT(some.size(), 70u);
  EXPECT_TRUE(std::is_sorted(some.begin(), some.end()));

  // Digests land on the files asked for; one the node did not hash is that side's error.
  std::map<std::string, replication::Hash128> digests;
  for (size_t i = 1; i < some.size(); ++i) digests[some[i]] = {i, i};
  ApplyDigests(some, digests, "sha256sum: x: Input/output error", &src);
  ASSERT_EQ(src.errors.size(), 1u);
  EXPECT_EQ(src.errors[0].path, some[0]);
  EXPECT_NE(src.errors[0].message.find("Input/output error"), std::string::npos);
  size_t hashed = 0;
  for (const auto& e : src.entries) hashed += e.hashed;
  EXPECT_EQ(hashed, some.size() - 1);
  EXPECT_EQ(src.bytes_hashed, 10 * (some.size() - 1));
}

TEST(GlusterVerifyParse, CommandsTakeDataAsArgumentsOnly) {
  const std::string at = gluster_verify::MountPoint("gv0", "9f1c-2a");
  EXPECT_EQ(at, "/run/georep/verify/gv0-9f1c-2a");
  auto mount = gluster_verify::MountCommand("gv0", at);
  ASSERT_EQ(mount.argv.size(), 6u);
  EXPECT_EQ(mount.argv[0], "sh");
  EXPECT_EQ(mount.argv[4], at);
  EXPECT_EQ(mount.argv[5], "localhost:/gv0");
  EXPECT_EQ(mount.argv[2].find("gv0"), std::string::npos);  // the script is fixed
  EXPECT_NE(mount.argv[2].find("-o ro"), std::string::npos);
  auto unmount = gluster_verify::UnmountCommand(at);
  EXPECT_EQ(unmount.argv, (std::vector<std::string>{"sh", "-c", unmount.argv[2], "sh", at}));
  auto hash = gluster_verify::HashCommand("/run/georep/verify/gv0", {"a b", "-c"});
  EXPECT_EQ(hash.argv, (std::vector<std::string>{"xargs", "-0", "-r", "sha256sum", "--"}));
  constexpr char kAsked[] = "/run/georep/verify/gv0/a b\0/run/georep/verify/gv0/-c\0";
  EXPECT_EQ(hash.stdin_data, std::string(kAsked, sizeof kAsked - 1));
  EXPECT_FALSE(gluster_verify::IsPlainVolumeName("gv0/.."));
  EXPECT_FALSE(gluster_verify::IsPlainVolumeName("g*"));
  EXPECT_FALSE(gluster_verify::IsPlainVolumeName(""));
  EXPECT_TRUE(gluster_verify::IsPlainVolumeName("gv_0-a"));
}

void Write(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

void SetMtime(const std::filesystem::path& p, int64_t sec, int64_t nsec) {
  const timespec times[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << p;
}

class GlusterVerifySessionTest : public testing_support::LabSourceTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenWithLabSource(&nodes_, "/b/gv0", "/b/gv0"));
    // Both source nodes see the same volume (one directory); the destination its own.
    nodes_.nodes = {
        {"10.77.0.1", src_.path()}, {"10.77.0.2", src_.path()}, {"10.77.0.11", dst_.path()}};
    id_ = CreateSession();
    ASSERT_FALSE(id_.empty());

    // The same tree on both sides, odd names included, times as gsyncd leaves them.
    for (const auto& root : {src_.path() + "/gv0", dst_.path() + "/gv1"}) {
      Write(root + "/plain.txt", "plain");
      Write(root + "/with space/new\nline", "newline");
      Write(root + "/caf\xe9 \xff", "latin-1");
      Write(root + "/back\\slash\rcr", "escapes");
      Write(root + "/-dash", "dash");
      Write(root + "/big.bin", std::string(300000, 'b'));
      for (int i = 0; i < 40; ++i) Write(root + "/many/f" + std::to_string(i), std::to_string(i));
      std::filesystem::create_symlink("with space/new\nline", root + "/link");
      Write(root + "/.georep/heartbeat", root);  // differs: never compared
    }
    Write(dst_.path() + "/gv1/.glusterfs-anonymous-inode-8d49/x", "gluster's own");
    Write(dst_.path() + "/gv1/.trashcan/old", "gluster's own");
    for (const auto& root : {src_.path() + "/gv0", dst_.path() + "/gv1"}) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        // The same second; gsyncd (tar) drops the fraction.
        SetMtime(e.path(), 1577934245, root.find("gv0") != std::string::npos ? 123456789 : 0);
      }
    }
  }

  Result<replication::VerifyReport> Verify(int sample) {
    return ops_->verifier().VerifySession(admin_, id_, sample);
  }

  TempDir src_, dst_;
  DirectoryNodes nodes_;
  std::string id_;
};

std::string Describe(const replication::VerifyReport& r) {
  std::string s = fmt::format("{} entries, {} files hashed:", r.entries, r.content_checked);
  for (const auto& d : r.differences) s += "\n  " + d.path + ": " + d.what;
  return s;
}

TEST_F(GlusterVerifySessionTest, IdenticalVolumesThenEachKindOfDifference) {
  auto same = Verify(100);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->differences.empty()) << Describe(*same);
  // 46 files, 2 directories, a symlink; neither .georep nor gluster's own entries.
  EXPECT_EQ(same->entries, 46u + 2u + 1u) << Describe(*same);
  EXPECT_EQ(same->content_checked, 46u);
  EXPECT_EQ(same->bytes_hashed, 2 * (5 + 7 + 7 + 7 + 4 + 300000 + 10 + 30 * 2u));
  // Each volume was mounted on its node, the source on the destination's source host.
  // Each mounted for this verify only, and unmounted at its end.
  std::set<std::string> mounted, unmounted;
  for (const auto& [address, spec] : nodes_.Runs("sh")) {
    if (spec.argv.size() == 6) mounted.insert(address + " " + spec.argv[5]);
    if (spec.argv.size() == 5) unmounted.insert(address + " " + spec.argv[4].substr(0, 23));
  }
  EXPECT_EQ(unmounted, (std::set<std::string>{"10.77.0.1 /run/georep/verify/gv0-",
                                              "10.77.0.11 /run/georep/verify/gv1-"}));
  EXPECT_EQ(mounted,
            (std::set<std::string>{"10.77.0.1 localhost:/gv0", "10.77.0.11 localhost:/gv1"}));
  auto events = ops_->ListEvents({0, "", "", "session.verify", 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].result, "ok");

  const std::string dst = dst_.path() + "/gv1";
  Write(dst + "/plain.txt", "PLAIN");  // same size, same second
  SetMtime(dst + "/plain.txt", 1577934245, 0);
  ASSERT_EQ(::truncate((dst + "/caf\xe9 \xff").c_str(), 2), 0);
  SetMtime(dst + "/caf\xe9 \xff", 1577934245, 0);
  SetMtime(dst + "/-dash", 1577934246, 0);  // a second later
  ASSERT_EQ(::chmod((src_.path() + "/gv0/many/f1").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((dst + "/many/f1").c_str(), 0600), 0);
  std::filesystem::remove(dst + "/link");
  std::filesystem::create_symlink("elsewhere", dst + "/link");
  std::filesystem::remove(dst + "/many/f2");
  Write(dst + "/many/extra", "x");
  auto differs = Verify(100);
  ASSERT_TRUE(differs.ok()) << differs.status().ToString();
  std::map<std::string, std::string> found;
  for (const auto& d : differs->differences) found[d.path] += d.what + ";";
  EXPECT_EQ(found.size(), 7u) << Describe(*differs);
  EXPECT_EQ(found["plain.txt"], "content differs;");
  EXPECT_EQ(found["caf\xe9 \xff"], "7 bytes at the source, 2 at the destination;");
  EXPECT_NE(found["-dash"].find("modified at"), std::string::npos);
  EXPECT_EQ(found["many/f1"], "mode 644 at the source, 600 at the destination;");
  EXPECT_NE(found["link"].find("points to"), std::string::npos);
  EXPECT_EQ(found["many/f2"], "missing at the destination;");
  EXPECT_EQ(found["many/extra"], "only at the destination;");
  events = ops_->ListEvents({0, "", "", "session.verify", 10});
  ASSERT_TRUE(events.ok());
  std::map<std::string, int> actions;
  for (const auto& e : *events) ++actions[e.action];
  EXPECT_EQ(actions["session.verify"], 2);
  // A user's verify with differences: the standing alert at once.
  EXPECT_EQ(actions["session.verify_differs"], 1);
  auto detail = ops_->GetSession(id_);
  ASSERT_TRUE(detail.ok());
  ASSERT_EQ(detail->alerts.size(), 1u);
  EXPECT_EQ(detail->alerts[0].kind, "verify-differs");
}

TEST_F(GlusterVerifySessionTest, ASampleHashesTheSameFilesOnBothNodes) {
  auto sampled = Verify(50);
  ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
  EXPECT_TRUE(sampled->differences.empty()) << Describe(*sampled);
  auto hashes = nodes_.Runs("xargs");
  ASSERT_EQ(hashes.size(), 2u);
  std::map<std::string, std::vector<std::string>> asked;  // node -> paths below its mount
  for (const auto& [address, spec] : hashes) {
    const std::string volume = address == "10.77.0.11" ? "gv1-" : "gv0-";
    const std::string prefix = "/run/georep/verify/" + volume;
    std::string_view rest = spec.stdin_data;
    while (!rest.empty()) {
      const std::string_view path = rest.substr(0, rest.find('\0'));
      rest.remove_prefix(std::min(rest.size(), path.size() + 1));
      ASSERT_EQ(path.substr(0, prefix.size()), prefix);
      asked[address].emplace_back(path.substr(path.find('/', prefix.size()) + 1));
    }
  }
  ASSERT_EQ(asked.size(), 2u);  // one on each side
  EXPECT_EQ(asked["10.77.0.1"], asked["10.77.0.11"]);
  const size_t files = asked["10.77.0.1"].size();
  EXPECT_EQ(sampled->content_checked, files);
  EXPECT_GT(files, 10u);
  EXPECT_LT(files, 40u);
  // Exactly the files the path hash picks.
  size_t expected = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(src_.path() + "/gv0")) {
    const std::string rel = e.path().string().substr(src_.path().size() + 5);
    if (e.is_regular_file() && rel.rfind(".georep", 0) != 0 &&
        replication::SampledForVerify(rel, 50))
      ++expected;
  }
  EXPECT_EQ(files, expected);
}

TEST_F(GlusterVerifySessionTest, AnUnreachableSourceHostIsPassedOver) {
  nodes_.nodes.erase("10.77.0.1");
  auto r = Verify(100);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->differences.empty()) << Describe(*r);
  for (const auto& [address, spec] : nodes_.Runs("find")) EXPECT_NE(address, "10.77.0.1");
  nodes_.nodes.erase("10.77.0.2");
  auto none = Verify(100);
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find("no host of the source cluster could mount gv0"),
            std::string::npos)
      << none.status().ToString();
  auto events = ops_->ListEvents({0, "", "", "session.verify", 10});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].result, "failed");
}

TEST_F(GlusterVerifySessionTest, BoundsAndFailuresAreSaidPlainly) {
  CommandResult cut;
  cut.exit_code = 0;
  cut.truncated = true;
  nodes_.faults["10.77.0.11 find"] = cut;
  auto r = Verify(100);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("the listing of gv1 on the destination 10.77.0.11 exceeds"),
            std::string::npos)
      << r.status().ToString();

  nodes_.faults.clear();
  CommandResult slow;
  slow.exit_code = 143;
  slow.timed_out = true;
  nodes_.faults["10.77.0.1 xargs"] = slow;
  r = Verify(100);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("hashing 46 files of gv0 on source host src1 took over"),
            std::string::npos)
      << r.status().ToString();
  // The time allowed grows with the bytes to read.
  auto hashes = nodes_.Runs("xargs");
  ASSERT_FALSE(hashes.empty());
  EXPECT_GE(hashes[0].second.timeout, std::chrono::minutes(10));

  nodes_.faults.clear();
  CommandResult unreadable;
  unreadable.exit_code = 1;
  unreadable.err = "find: '/run/georep/verify/gv0/x': Input/output error\n";
  unreadable.out = Record("f 644 0 0 5 1.0", "plain.txt");
  nodes_.faults["10.77.0.1 find"] = unreadable;
  r = Verify(100);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  bool said = false;
  for (const auto& d : r->differences)
    said |= d.what.find(
                "cannot be read at the source: find: '/run/georep/verify/gv0/x': "
                "Input/output error") != std::string::npos;
  EXPECT_TRUE(said) << Describe(*r);
}

}  // namespace
}  // namespace georep
