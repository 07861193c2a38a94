// Verify: compares a destination tree with its source, entry by entry -- type, size, mode,
// owner, mtime, symlink target, user xattrs and, for files, their content (XXH3-128 of every
// byte, or of a sample of the files) -- and lists every difference. What georep says is
// synced can be checked, independently of the index the worker keeps.
//
// In two steps, so the sides can be on different machines: DescribeTreeForVerify walks one
// tree (on the destination host: `georep agent --describe`, whose output is
// tree_description.h's binary form), CompareTreeDescriptions pairs the two descriptions.
// Both sides sample the same files: a file is picked by the hash of its path.
//
// Thread-safety: a free function; safe to call concurrently on different trees.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/tree_description.h"

namespace georep::replication {

struct VerifyOptions {
  int sample_percent = 100;           // files whose content is hashed (1-100), by path hash
  bool ignore_deletes = false;        // entries only at the destination are not differences
  std::vector<std::string> excludes;  // fnmatch patterns the session does not replicate
  // Set (by another thread): stop as soon as possible (Unavailable). Not owned; may be null.
  const std::atomic<bool>* cancel = nullptr;
};

struct VerifyDifference {
  std::string path;
  std::string what;  // "missing at the destination", "content differs", "mode 644 != 600"...
  // The source entry as this verify saw it (type, mode, size, mtime, content hash when
  // hashed; "absent" when only the destination has it): a difference seen again with the
  // same source state is not a file in flight (the periodic verify's re-check).
  std::string source_state{};
};

struct VerifyReport {
  uint64_t entries = 0;          // source entries compared
  uint64_t content_checked = 0;  // files whose content was hashed on both sides
  uint64_t bytes_hashed = 0;
  std::vector<VerifyDifference> differences;
};

struct DescribeOptions {
  int sample_percent = 100;                   // 1-100: files whose content is hashed, by path hash
  std::vector<std::string> excludes;          // fnmatch patterns: entries left out (not entered)
  const std::atomic<bool>* cancel = nullptr;  // as VerifyOptions::cancel
};

// Whether a file's content is hashed in a `sample_percent` sample: by a hash of its path, so
// every side (and every engine) picks the same files.
bool SampledForVerify(std::string_view path, int sample_percent);

// Walks `root` (no symlink followed) and hashes the sampled files. Non-OK only when the root
// itself cannot be read; what cannot be read below it is listed in the description's errors.
Result<TreeDescription> DescribeTreeForVerify(const std::string& root,
                                              const DescribeOptions& options);

// Every difference between a source and a destination description (made with the same sample:
// FailedPrecondition otherwise). Content is compared for the files both sides hashed.
Result<VerifyReport> CompareTreeDescriptions(const TreeDescription& source,
                                             const TreeDescription& destination,
                                             const VerifyOptions& options);

// Both trees on this machine: DescribeTreeForVerify of each, then CompareTreeDescriptions.
Result<VerifyReport> VerifyTrees(const std::string& source, const std::string& destination,
                                 const VerifyOptions& options);

}  // namespace georep::replication
