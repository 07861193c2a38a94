// Tree descriptions: the GRTREE format a describer writes and verify reads back (see
// tree_description.h), encoded with the byte_reader.h primitives.
#include "replication/tree_description.h"

#include <fmt/format.h>

#include <algorithm>

#include "replication/byte_reader.h"

namespace georep::replication {
namespace {

constexpr std::string_view kMagic = "GRTREE";
constexpr uint8_t kTagEnd = 0;
constexpr uint8_t kTagEntry = 1;
constexpr uint8_t kTagError = 2;
constexpr size_t kTrailerBytes = 16;

Status TooLarge(std::string_view what, size_t size, size_t max, std::string_view path) {
  return Status::InvalidArgument(fmt::format("{} of '{}' is {} bytes; a description allows {}",
                                             what, path.substr(0, 200), size, max));
}

Status CheckEntry(const DescribedEntry& e) {
  if (!IsDescribablePath(e.path))
    return Status::InvalidArgument(
        fmt::format("'{}' is not a relative path", e.path.substr(0, 200)));
  if (e.symlink_target.size() > kMaxPathBytes)
    return TooLarge("symlink target", e.symlink_target.size(), kMaxPathBytes, e.path);
  if (e.type != EntryType::kSymlink && !e.symlink_target.empty())
    return Status::InvalidArgument(fmt::format("'{}' has a target but is no symlink", e.path));
  if (e.hashed && e.type != EntryType::kRegular)
    return Status::InvalidArgument(fmt::format("'{}' has a content hash but is no file", e.path));
  if (e.link_group != 0 && e.type != EntryType::kRegular)
    return Status::InvalidArgument(fmt::format("'{}' has a link group but is no file", e.path));
  if (e.xattrs.size() > kMaxXattrsPerEntry)
    return TooLarge("xattr count", e.xattrs.size(), kMaxXattrsPerEntry, e.path);
  for (const Xattr& x : e.xattrs) {
    if (x.name.empty() || x.name.size() > kMaxXattrNameBytes)
      return TooLarge("an xattr name", x.name.size(), kMaxXattrNameBytes, e.path);
    if (x.value.size() > kMaxXattrValueBytes)
      return TooLarge("an xattr value", x.value.size(), kMaxXattrValueBytes, e.path);
  }
  return Status::Ok();
}

// An entry record (its tag read) of a version `version` description, appended to `d` when it
// is valid; a failure is left in `in`.
void ReadEntry(ByteReader& in, uint64_t version, TreeDescription* d) {
  DescribedEntry e;
  e.path = in.Bytes("path", kMaxPathBytes);
  const uint8_t type = in.Byte();
  if (in.ok() && type > static_cast<uint8_t>(EntryType::kOther))
    in.Fail(fmt::format("unknown entry type {}", type));
  e.type = static_cast<EntryType>(type);
  e.mode = in.Varint32("mode");
  e.uid = in.Varint32("uid");
  e.gid = in.Varint32("gid");
  e.size = in.Varint();
  e.mtime_ns = in.Signed();
  if (e.type == EntryType::kSymlink) e.symlink_target = in.Bytes("symlink target", kMaxPathBytes);
  const uint64_t xattrs = in.Varint();
  if (in.ok() && xattrs > kMaxXattrsPerEntry)
    in.Fail(fmt::format("{} xattrs exceeds the limit of {}", xattrs, kMaxXattrsPerEntry));
  for (uint64_t i = 0; in.ok() && i < xattrs; ++i) {
    Xattr x;
    x.name = in.Bytes("xattr name", kMaxXattrNameBytes);
    x.value = in.Bytes("xattr value", kMaxXattrValueBytes);
    if (in.ok() && x.name.empty()) in.Fail("empty xattr name");
    e.xattrs.push_back(std::move(x));
  }
  const uint8_t hashed = in.Byte();
  if (in.ok() && hashed > 1) in.Fail(fmt::format("hash flag {}", hashed));
  e.hashed = hashed == 1;
  if (e.hashed) {
    e.hash.low = in.Fixed64();
    e.hash.high = in.Fixed64();
  }
  if (version >= 2) e.link_group = in.Varint();
  if (in.ok() && e.link_group != 0 && !d->links_described)
    in.Fail("a link group in a description without them");
  if (in.ok()) {
    Status valid = CheckEntry(e);
    if (!valid.ok()) in.Fail(valid.message());
  }
  if (in.ok()) d->entries.push_back(std::move(e));
}

}  // namespace

bool IsDescribablePath(std::string_view path) {
  if (path == ".") return true;
  if (path.empty() || path.size() > kMaxPathBytes || path.front() == '/') return false;
  if (path.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

Result<std::string> EncodeTreeDescription(const TreeDescription& d) {
  if (d.sample_percent < 1 || d.sample_percent > 100)
    return Status::InvalidArgument("sample must be 1-100 percent");
  std::string out(kMagic);
  PutVarint(&out, kTreeDescriptionVersion);
  PutVarint(&out, static_cast<uint64_t>(d.sample_percent));
  if (d.xattr_namespaces.size() > kMaxXattrNamespaces)
    return Status::InvalidArgument("too many xattr namespaces");
  PutVarint(&out, d.links_described ? 1 : 0);
  PutVarint(&out, d.xattr_namespaces.size());
  for (const std::string& prefix : d.xattr_namespaces) {
    if (prefix.empty() || prefix.size() > kMaxXattrNameBytes)
      return Status::InvalidArgument("an xattr namespace's name is empty or too long");
    PutBytes(&out, prefix);
  }
  for (const DescribedEntry& e : d.entries) {
    GEOREP_RETURN_IF_ERROR(CheckEntry(e));
    if (e.link_group != 0 && !d.links_described)
      return Status::InvalidArgument(
          fmt::format("'{}' has a link group in a description "
                      "without them",
                      e.path.substr(0, 200)));
    out.push_back(static_cast<char>(kTagEntry));
    PutBytes(&out, e.path);
    out.push_back(static_cast<char>(e.type));
    PutVarint(&out, e.mode);
    PutVarint(&out, e.uid);
    PutVarint(&out, e.gid);
    PutVarint(&out, e.size);
    PutSigned(&out, e.mtime_ns);
    if (e.type == EntryType::kSymlink) PutBytes(&out, e.symlink_target);
    PutVarint(&out, e.xattrs.size());
    for (const Xattr& x : e.xattrs) {
      PutBytes(&out, x.name);
      PutBytes(&out, x.value);
    }
    out.push_back(e.hashed ? 1 : 0);
    if (e.hashed) {
      PutFixed64(&out, e.hash.low);
      PutFixed64(&out, e.hash.high);
    }
    PutVarint(&out, e.link_group);
    if (out.size() > kMaxTreeDescriptionBytes)
      return Status::FailedPrecondition(
          fmt::format("the tree's description exceeds {} MiB; verify it in parts",
                      kMaxTreeDescriptionBytes >> 20));
  }
  for (const DescribeError& e : d.errors) {
    out.push_back(static_cast<char>(kTagError));
    PutBytes(&out, std::string_view(e.path).substr(0, kMaxPathBytes));
    PutBytes(&out, std::string_view(e.message).substr(0, kMaxTextBytes));
  }
  out.push_back(static_cast<char>(kTagEnd));
  PutVarint(&out, d.entries.size());
  PutVarint(&out, d.errors.size());
  PutVarint(&out, d.bytes_hashed);
  const Hash128 sum = HashBytes(out);
  PutFixed64(&out, sum.low);
  PutFixed64(&out, sum.high);
  if (out.size() > kMaxTreeDescriptionBytes)
    return Status::FailedPrecondition(
        fmt::format("the tree's description exceeds {} MiB; verify it in parts",
                    kMaxTreeDescriptionBytes >> 20));
  return out;
}

Result<TreeDescription> DecodeTreeDescription(std::string_view bytes) {
  auto corrupt = [](std::string_view why) {
    return Status::Corruption(fmt::format("not a valid tree description: {}", why));
  };
  if (bytes.size() > kMaxTreeDescriptionBytes)
    return corrupt(
        fmt::format("{} bytes exceeds the limit of {}", bytes.size(), kMaxTreeDescriptionBytes));
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return corrupt(bytes.empty() ? std::string_view("it is empty")
                                 : std::string_view("it does not start with GRTREE"));
  }
  if (bytes.size() < kMagic.size() + kTrailerBytes) return corrupt("it is truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - kTrailerBytes);
  {
    ByteReader trailer(bytes.substr(body.size()));
    const Hash128 expected{trailer.Fixed64(), trailer.Fixed64()};
    if (!(HashBytes(body) == expected)) return corrupt("checksum mismatch (truncated or damaged)");
  }
  ByteReader in(body.substr(kMagic.size()));
  const uint64_t version = in.Varint();
  if (in.ok() && (version < kOldestTreeDescriptionVersion || version > kTreeDescriptionVersion)) {
    return corrupt(fmt::format("format version {}; this georep reads versions {} to {}", version,
                               kOldestTreeDescriptionVersion, kTreeDescriptionVersion));
  }
  TreeDescription d;
  const uint64_t sample = in.Varint();
  if (in.ok() && (sample < 1 || sample > 100)) in.Fail(fmt::format("sample of {} percent", sample));
  d.sample_percent = static_cast<int>(sample);
  if (version == 1) {
    d.xattr_namespaces = {"user."};  // what a version 1 describer read
  } else {
    const uint64_t flags = in.Varint();
    if (in.ok() && flags > 1) in.Fail(fmt::format("unknown flags {}", flags));
    d.links_described = flags == 1;
    const uint64_t namespaces = in.Varint();
    if (in.ok() && namespaces > kMaxXattrNamespaces)
      in.Fail(fmt::format("{} xattr namespaces exceeds the limit of {}", namespaces,
                          kMaxXattrNamespaces));
    for (uint64_t i = 0; in.ok() && i < namespaces; ++i) {
      std::string prefix = in.Bytes("xattr namespace", kMaxXattrNameBytes);
      if (in.ok() && prefix.empty()) in.Fail("empty xattr namespace");
      d.xattr_namespaces.push_back(std::move(prefix));
    }
  }
  bool ended = false;
  while (in.ok() && !ended) {
    if (in.empty()) {
      in.Fail("no end record");
      break;
    }
    const uint8_t tag = in.Byte();
    if (!in.ok()) break;
    if (tag == kTagEntry) {
      ReadEntry(in, version, &d);
    } else if (tag == kTagError) {
      DescribeError e;
      e.path = in.Bytes("path", kMaxPathBytes);
      e.message = in.Bytes("message", kMaxTextBytes);
      if (in.ok()) d.errors.push_back(std::move(e));
    } else if (tag == kTagEnd) {
      const uint64_t entries = in.Varint();
      const uint64_t errors = in.Varint();
      d.bytes_hashed = in.Varint();
      if (in.ok() && (entries != d.entries.size() || errors != d.errors.size())) {
        in.Fail(
            fmt::format("the end record counts {} entries and {} errors, the description "
                        "holds {} and {}",
                        entries, errors, d.entries.size(), d.errors.size()));
      }
      if (in.ok() && !in.empty()) in.Fail(fmt::format("{} bytes after the end", in.remaining()));
      ended = true;
    } else {
      in.Fail(fmt::format("unknown record tag {}", tag));
    }
  }
  if (!in.ok()) return corrupt(in.error());
  // Each path once, in order: the comparison pairs entries by path.
  for (size_t i = 1; i < d.entries.size(); ++i) {
    if (!(d.entries[i - 1].path < d.entries[i].path)) {
      return corrupt(
          fmt::format("'{}' is out of order or listed twice", d.entries[i].path.substr(0, 200)));
    }
  }
  return d;
}

}  // namespace georep::replication
