// The fault harness's own description of a tree and its strict comparison: type, mode, owner,
// size, content, mtime, symlink target, xattrs and ACLs, and hard-link structure -- never
// georep's verify.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace georep::fault {

// One entry of a tree, described by lstat, readlink, listxattr and its contents.
struct Entry {
  char type = '?';  // f d l p s c b
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  std::string content_hash;  // regular files
  std::string target;        // symlinks
  std::map<std::string, std::string> xattrs;
  std::string links;  // regular files with several links: the other paths sharing the inode
};

using Tree = std::map<std::string, Entry>;

// Every entry beneath `root`, by its path relative to `root`.
Tree DescribeTree(const std::string& root);

// A mode as octal digits ("644").
std::string Octal(mode_t m);

// The differences between source `a` and destination `b`, one line each.
std::vector<std::string> Compare(const Tree& a, const Tree& b, bool dir_mtime);

}  // namespace georep::fault
