// TreeDescription: one side of a verification -- every entry of a tree with the metadata
// verify compares and, for the sampled files, an XXH3-128 of their content -- and its compact
// binary form, which `georep agent --describe` writes to stdout at the destination and the
// engine reads back over ssh. The reader treats its input as untrusted: every size is bounded
// and anything malformed is refused with Corruption, never a crash or an unbounded allocation.
//
// Format (version 2; integers are LEB128 varints as in wire.h, signed ones zigzag-encoded;
// strings are a varint length and the bytes):
//   "GRTREE" version sample_percent
//   [version 2] flags (bit 0: link groups described) namespace-count (xattr prefix)...
//   records, each introduced by a tag byte:
//     1 entry: path type mode uid gid size mtime_ns [target if symlink]
//              xattr-count (name value)... hashed(0|1) [hash low, high as fixed64 if hashed]
//              [version 2] link_group
//     2 error: path message
//     0 end:   entry-count error-count bytes-hashed
//   XXH3-128 of every byte above (low, high as little-endian fixed64): a cut reply is refused.
// Version 1 (a georep from before hard-link groups) is still read: no link groups, user.*
// xattrs only; it is written only as version 2.
//
// Thread-safety: free functions on values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/content_hash.h"
#include "replication/scanner.h"
#include "replication/wire.h"

namespace georep::replication {

inline constexpr uint32_t kTreeDescriptionVersion = 2;
inline constexpr uint32_t kOldestTreeDescriptionVersion = 1;
// A description larger than this is refused (about five million entries).
inline constexpr size_t kMaxTreeDescriptionBytes = 512u << 20;
inline constexpr size_t kMaxXattrsPerEntry = 4096;
inline constexpr size_t kMaxXattrNamespaces = 32;

struct DescribedEntry {
  std::string path;  // relative to the root; "." for the root itself
  EntryType type = EntryType::kOther;
  uint32_t mode = 0;  // st_mode, type bits included
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string symlink_target;  // kSymlink only
  std::vector<Xattr> xattrs;   // sorted by name
  bool hashed = false;         // kRegular files picked by the sample, read completely
  Hash128 hash;
  // kRegular files only: the same non-zero number for every path of one inode with more than
  // one link (numbered in path order from 1), 0 for a file with one link.
  uint64_t link_group = 0;
  bool operator==(const DescribedEntry&) const = default;
};

struct DescribeError {
  std::string path;
  std::string message;
  bool operator==(const DescribeError&) const = default;
};

struct TreeDescription {
  int sample_percent = 100;
  std::vector<DescribedEntry> entries;  // sorted by path, each path once
  std::vector<DescribeError> errors;    // what could not be read
  uint64_t bytes_hashed = 0;
  bool links_described = false;  // whether link_group was filled in (not by a version 1 reader)
  // The xattr name prefixes this side read ("user.", "trusted.", ...): what it lists of any
  // other namespace is not there to compare.
  std::vector<std::string> xattr_namespaces;
  bool operator==(const TreeDescription&) const = default;
};

// The binary form. InvalidArgument when a field exceeds the format's limits (a description
// made by DescribeTreeForVerify never does).
Result<std::string> EncodeTreeDescription(const TreeDescription& description);

// Parses `bytes` completely. Corruption (saying what is wrong) for anything that is not one
// well-formed description within the limits above.
Result<TreeDescription> DecodeTreeDescription(std::string_view bytes);

// Whether `path` is one a description may hold: "." or a relative path of non-empty
// components, none of them "." or "..", without NUL, at most kMaxPathBytes.
bool IsDescribablePath(std::string_view path);

}  // namespace georep::replication
