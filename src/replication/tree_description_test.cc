#include "replication/tree_description.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace georep::replication {
namespace {

TreeDescription Sample() {
  TreeDescription d;
  d.sample_percent = 37;
  DescribedEntry root;
  root.path = ".";
  root.type = EntryType::kDirectory;
  root.mode = 040755;
  d.entries.push_back(root);
  DescribedEntry dir;
  dir.path = "d";
  dir.type = EntryType::kDirectory;
  dir.mode = 040700;
  dir.uid = 1000;
  dir.gid = 4294967295u;
  dir.mtime_ns = -5;  // before 1970
  dir.xattrs = {{"user.a", std::string("\0binary\xff", 8)}, {"user.b", ""}};
  d.entries.push_back(dir);
  DescribedEntry file;
  file.path = "d/f";
  file.type = EntryType::kRegular;
  file.mode = 0100644;
  file.size = 1ull << 40;
  file.mtime_ns = 1'600'000'000'123'456'789;
  file.hashed = true;
  file.hash = HashBytes("content");
  file.link_group = 1;
  d.entries.push_back(file);
  d.links_described = true;
  d.xattr_namespaces = {"user.", "system.posix_acl_access", "trusted."};
  DescribedEntry link;
  link.path = "d/l";
  link.type = EntryType::kSymlink;
  link.mode = 0120777;
  link.symlink_target = "../somewhere else";
  d.entries.push_back(link);
  DescribedEntry fifo;
  fifo.path = "p";
  fifo.type = EntryType::kOther;
  fifo.mode = 010600;
  d.entries.push_back(fifo);
  d.errors.push_back({"secret", "Permission denied"});
  d.bytes_hashed = 7;
  return d;
}

std::string Encode(const TreeDescription& d) {
  auto bytes = EncodeTreeDescription(d);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

// The checksum over `body` appended: crafted inputs get past it to the parser.
std::string Seal(std::string body) {
  const Hash128 sum = HashBytes(body);
  for (uint64_t v : {sum.low, sum.high})
    for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return body;
}

std::string Body(const std::string& sealed) {
  return sealed.substr(0, sealed.size() - 16);
}

// An empty version 1 description's body up to (not including) its end record: the records
// below are version 1's, which is still read.
std::string EmptyPrefix() {
  EXPECT_EQ(Body(Encode(TreeDescription{})), std::string("GRTREE\x02\x64\0\0\0\0\0\0", 14));
  return std::string("GRTREE\x01\x64", 8);
}

void ExpectRefused(const std::string& bytes, const std::string& why) {
  auto r = DecodeTreeDescription(bytes);
  ASSERT_FALSE(r.ok()) << "accepted; expected: " << why;
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
}

TEST(TreeDescriptionTest, RoundTripsEveryKindOfEntryAndError) {
  const TreeDescription d = Sample();
  auto back = DecodeTreeDescription(Encode(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
  auto empty = DecodeTreeDescription(Encode(TreeDescription{}));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, TreeDescription{});
}

TEST(TreeDescriptionTest, RefusesWhatIsNotADescription) {
  ExpectRefused("", "it is empty");
  ExpectRefused("GRTREX\x01\x64", "does not start with GRTREE");
  ExpectRefused("georep: command not found\n", "does not start with GRTREE");
  ExpectRefused("GRTREE", "truncated");
}

TEST(TreeDescriptionTest, RefusesATruncatedOrDamagedReply) {
  const std::string good = Encode(Sample());
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(DecodeTreeDescription(good.substr(0, n)).ok()) << "prefix of " << n;
  for (size_t i = 6; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_FALSE(DecodeTreeDescription(bad).ok()) << "byte " << i;
  }
  ExpectRefused(good.substr(0, good.size() - 1), "checksum mismatch");
  ExpectRefused(good + "x", "checksum mismatch");
}

TEST(TreeDescriptionTest, RefusesMalformedRecordsBehindAValidChecksum) {
  const std::string body = Body(Encode(Sample()));
  std::string newer = body;
  newer[6] = 3;
  ExpectRefused(Seal(newer), "format version 3; this georep reads versions 1 to 2");
  std::string no_sample = body;
  no_sample[7] = 0;
  ExpectRefused(Seal(no_sample), "sample of 0 percent");
  ExpectRefused(Seal(body + "x"), "1 bytes after the end");
  ExpectRefused(Seal(EmptyPrefix()), "no end record");
  ExpectRefused(Seal(EmptyPrefix() + "\x07"), "unknown record tag 7");
  // The end record's counts must match what came before it.
  ExpectRefused(Seal(EmptyPrefix() + std::string("\0\x01\0\0", 4)), "counts 1 entries");
  // One entry ("a", regular, all zero) with a field changed.
  const std::string entry(
      "\x01\x01"
      "a\0\0\0\0\0\0\0\0",
      11);
  const std::string end("\0\x01\0\0", 4);
  ASSERT_TRUE(DecodeTreeDescription(Seal(EmptyPrefix() + entry + end)).ok());
  std::string bad_type = entry;
  bad_type[3] = 9;
  ExpectRefused(Seal(EmptyPrefix() + bad_type + end), "unknown entry type 9");
  std::string bad_flag = entry;
  bad_flag[10] = 2;
  ExpectRefused(Seal(EmptyPrefix() + bad_flag + end), "hash flag 2");
  std::string dir_hash = entry;
  dir_hash[3] = static_cast<char>(EntryType::kDirectory);
  dir_hash[10] = 1;
  ExpectRefused(Seal(EmptyPrefix() + dir_hash + std::string(16, 'h') + end),
                "has a content hash but is no file");
  for (const char* path : {"..", "/etc", "a//b", "a/./b", "a/"}) {
    std::string body = EmptyPrefix();
    body.push_back('\x01');
    body.push_back(static_cast<char>(std::string(path).size()));
    body.append(path).append(entry.substr(3)).append(end);
    ExpectRefused(Seal(body), "is not a relative path");
  }
  ExpectRefused(Seal(EmptyPrefix() + entry + entry + std::string("\0\x02\0\0", 4)),
                "'a' is out of order or listed twice");
  ExpectRefused(Seal(EmptyPrefix() + entry.substr(0, 6)), "truncated");
}

TEST(TreeDescriptionTest, Version2CarriesLinkGroupsAndXattrNamespaces) {
  // A version 1 description has neither: it was made without them (user.* xattrs only).
  auto v1 = DecodeTreeDescription(Seal(EmptyPrefix() + std::string("\0\0\0\0", 4)));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_FALSE(v1->links_described);
  EXPECT_EQ(v1->xattr_namespaces, std::vector<std::string>{"user."});
  // Version 2: flags, namespaces, and each entry's link group after its hash.
  const std::string v2("GRTREE\x02\x64\x01\x01\x05user.", 16);
  const std::string entry(
      "\x01\x01"
      "a\0\0\0\0\0\0\0\0\x07",
      12);
  const std::string end("\0\x01\0\0", 4);
  auto linked = DecodeTreeDescription(Seal(v2 + entry + end));
  ASSERT_TRUE(linked.ok()) << linked.status().ToString();
  EXPECT_TRUE(linked->links_described);
  EXPECT_EQ(linked->entries.at(0).link_group, 7u);
  std::string dir = entry;
  dir[3] = static_cast<char>(EntryType::kDirectory);
  ExpectRefused(Seal(v2 + dir + end), "has a link group but is no file");
  std::string no_links = v2;
  no_links[8] = 0;
  ExpectRefused(Seal(no_links + entry + end), "a link group in a description without them");
  no_links[8] = 2;
  ExpectRefused(Seal(no_links + entry + end), "unknown flags 2");
  ExpectRefused(Seal(std::string("GRTREE\x02\x64\x01\x21", 10)),
                "33 xattr namespaces exceeds the limit of 32");
  // The encoder refuses what the decoder would.
  TreeDescription d = Sample();
  d.links_described = false;
  EXPECT_EQ(EncodeTreeDescription(d).status().code(), StatusCode::kInvalidArgument);
}

TEST(TreeDescriptionTest, SizesAreBoundedBeforeAnythingIsAllocated) {
  // A path claiming a terabyte, an entry claiming a billion xattrs, a 64-bit overflow.
  ExpectRefused(Seal(EmptyPrefix() + "\x01\x80\x80\x80\x80\x80\x20"),
                "path of 1099511627776 bytes exceeds the limit of 4096");
  ExpectRefused(Seal(EmptyPrefix() + std::string("\x01\x01"
                                                 "a\0\0\0\0\0\0\x80\x80\x80\x80\x04",
                                                 14)),
                "1073741824 xattrs exceeds the limit of 4096");
  ExpectRefused(Seal(EmptyPrefix() +
                     std::string("\x01\x01"
                                 "a\0\0\0\0",
                                 7) +
                     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),
                "varint overflows 64 bits");
  ExpectRefused(Seal(EmptyPrefix() + std::string("\x01\x01"
                                                 "a\0\x80\x80\x80\x80\x10",
                                                 9)),
                "mode exceeds 32 bits");
  // The encoder keeps to the same limits.
  TreeDescription d;
  d.entries.push_back({});
  d.entries[0].path = std::string(kMaxPathBytes + 1, 'x');
  EXPECT_EQ(EncodeTreeDescription(d).status().code(), StatusCode::kInvalidArgument);
  d.entries[0].path = std::string(kMaxPathBytes, 'x');
  EXPECT_TRUE(DecodeTreeDescription(Encode(d)).ok());
  d.entries[0].xattrs.resize(kMaxXattrsPerEntry + 1, Xattr{"user.x", "v"});
  EXPECT_EQ(EncodeTreeDescription(d).status().code(), StatusCode::kInvalidArgument);
  d.entries[0].xattrs = {{"user.x", std::string(kMaxXattrValueBytes + 1, 'v')}};
  EXPECT_EQ(EncodeTreeDescription(d).status().code(), StatusCode::kInvalidArgument);
  d.entries[0].xattrs = {{"user.x", std::string(kMaxXattrValueBytes, 'v')}};
  EXPECT_TRUE(DecodeTreeDescription(Encode(d)).ok());
  d.sample_percent = 0;
  EXPECT_EQ(EncodeTreeDescription(d).status().code(), StatusCode::kInvalidArgument);
}

TEST(TreeDescriptionTest, DescribablePaths) {
  for (const char* ok : {".", "a", "a/b", ".hidden", "a/..b", "x y/z"})
    EXPECT_TRUE(IsDescribablePath(ok)) << ok;
  for (const char* bad : {"", "/", "/a", "..", "a/..", "./a", "a//b", "a/", "a/."})
    EXPECT_FALSE(IsDescribablePath(bad)) << bad;
  EXPECT_FALSE(IsDescribablePath(std::string("a\0b", 3)));
}

// The fuzz seeds (testdata/tree, written by `georep agent --describe`) stay what they claim.
TEST(TreeDescriptionTest, FuzzSeedsDecode) {
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(GEOREP_REPLICATION_TESTDATA) + "/tree/" + name, std::ios::binary);
    EXPECT_TRUE(in) << name;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  auto described = DecodeTreeDescription(read("described.bin"));
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  std::vector<std::string> paths;
  for (const auto& e : described->entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{".", "a", "a/b", "a/b/file", "a/link", "fifo"}));
  EXPECT_TRUE(described->entries[3].hashed);
  EXPECT_EQ(described->entries[3].xattrs,
            (std::vector<Xattr>{{"user.bin", std::string("\0\xff", 2)}}));
  EXPECT_EQ(described->entries[4].symlink_target, "../dangling");
  auto sampled = DecodeTreeDescription(read("sampled.bin"));
  ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
  EXPECT_EQ(sampled->sample_percent, 1);
  EXPECT_EQ(sampled->entries.size(), 5u);
  EXPECT_TRUE(DecodeTreeDescription(read("empty.bin")).ok());
  EXPECT_FALSE(DecodeTreeDescription(read("truncated.bin")).ok());
}

}  // namespace
}  // namespace georep::replication
