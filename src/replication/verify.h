// Verify: compares a destination tree with its source, entry by entry -- type, size, mode,
// owner, mtime (directories' too), symlink target, hard-link structure (two paths are links of
// one inode at the source iff they are at the destination), the xattrs of the namespaces in
// kVerifiedXattrNamespaces that the session replicates and, for files, their content (XXH3-128
// of every byte, or of a sample of the files) -- and lists every difference, and says what it
// did not compare. What georep says is synced can be checked, independently of the index the
// worker keeps.
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

// An xattr namespace verify knows: a name prefix, and how the report names it.
struct XattrNamespace {
  std::string_view prefix;
  std::string_view label;
};

// Every xattr namespace verify reads and may compare: what the engine replicates, or may be
// set to replicate. The one list to extend; ComparedXattrNamespaces says which a session's
// verify compares. POSIX ACLs are compared wherever either side has them.
inline constexpr XattrNamespace kVerifiedXattrNamespaces[] = {
    {"user.", "user.* xattrs"},
    {"system.posix_acl_access", "POSIX ACLs"},
    {"system.posix_acl_default", "default POSIX ACLs"},
    {"security.capability", "security.capability"},
    {"trusted.", "trusted.* xattrs"},
};

// What a session replicates of xattrs (its sync-xattrs and sync-acls options), as the worker
// does: user.* with sync-xattrs; POSIX ACLs with sync-xattrs and sync-acls; security.capability
// and trusted.* with sync-xattrs, where both ends run as root (a side that cannot read them
// says so, and they are then not compared).
struct ReplicatedXattrs {
  bool user = true;        // sync-xattrs
  bool acls = true;        // sync-xattrs and sync-acls
  bool privileged = true;  // sync-xattrs: security.capability, trusted.*
};

// The prefixes of kVerifiedXattrNamespaces a verify of such a session compares (when both
// sides read them): user.* with sync-xattrs; POSIX ACLs always; security.capability and
// trusted.* with sync-acls.
std::vector<std::string_view> ComparedXattrNamespaces(const ReplicatedXattrs& replicated);

struct VerifyOptions {
  int sample_percent = 100;           // files whose content is hashed (1-100), by path hash
  bool ignore_deletes = false;        // entries only at the destination are not differences
  std::vector<std::string> excludes;  // fnmatch patterns the session does not replicate
  ReplicatedXattrs xattrs;
  // Set (by another thread): stop as soon as possible (Unavailable). Not owned; may be null.
  const std::atomic<bool>* cancel = nullptr;
};

// What a difference asks of a repair.
enum class DifferenceKind : uint8_t {
  kDiffers,            // the destination's entry differs: sent again
  kMissing,            // the destination has none (or one of another type): sent as new
  kOnlyAtDestination,  // the source has none: deleted (unless ignore-deletes)
  kUnreadable,         // a side could not be read: nothing to repair
};

struct VerifyDifference {
  std::string path;
  std::string what;  // "missing at the destination", "content differs", "mode 644 != 600"...
  // The source entry as this verify saw it (type, mode, size, mtime, content hash when
  // hashed; "absent" when only the destination has it): a difference seen again with the
  // same source state is not a file in flight (the periodic verify's re-check).
  std::string source_state{};
  DifferenceKind kind = DifferenceKind::kDiffers;
  EntryType destination_type = EntryType::kOther;  // kOnlyAtDestination: what is there
};

struct VerifyReport {
  uint64_t entries = 0;          // source entries compared
  uint64_t content_checked = 0;  // files whose content was hashed on both sides
  uint64_t bytes_hashed = 0;
  std::vector<VerifyDifference> differences;
  // What this verify did not compare, each with why ("trusted.* xattrs (not replicated by this
  // session)"), in the operator's words.
  std::vector<std::string> not_compared;
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
