// Verify: compares a destination tree with its source, entry by entry -- type, size, mode,
// owner, mtime, symlink target, user xattrs and, for files, their content (XXH3-128 of every
// byte, or of a sample of the files) -- and lists every difference. What georep says is
// synced can be checked, independently of the index the worker keeps.
//
// Thread-safety: a free function; safe to call concurrently on different trees.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace georep::replication {

struct VerifyOptions {
  int sample_percent = 100;           // files whose content is hashed (1-100), by path hash
  bool ignore_deletes = false;        // entries only at the destination are not differences
  std::vector<std::string> excludes;  // fnmatch patterns the session does not replicate
};

struct VerifyDifference {
  std::string path;
  std::string what;  // "missing at the destination", "content differs", "mode 644 != 600"...
};

struct VerifyReport {
  uint64_t entries = 0;          // source entries compared
  uint64_t content_checked = 0;  // files whose content was hashed on both sides
  uint64_t bytes_hashed = 0;
  std::vector<VerifyDifference> differences;
};

Result<VerifyReport> VerifyTrees(const std::string& source, const std::string& destination,
                                 const VerifyOptions& options);

}  // namespace georep::replication
