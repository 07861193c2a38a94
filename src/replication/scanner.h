// Scanner: the source side's full crawl of a directory tree.
//
// Directories are read in parallel by a small bounded pool of threads (readdir + statx with
// AT_SYMLINK_NOFOLLOW). Symlinks are reported, never followed; a directory on another file
// system (a mount point) is reported but not entered unless asked. Anything that cannot be
// read is reported as a ScanError -- nothing is skipped silently. Entries that vanish between
// readdir and statx (the tree is live) are counted, not errors: change capture covers them.
//
// Order: the sink sees a directory's entry before any entry inside it (a directory is read
// only after the batch that named it was delivered), so a consumer can create parents first.
//
// Thread-safety: ScanTree may be called concurrently; it calls the sink from its worker
// threads, one call at a time (calls are serialised).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/wire.h"

namespace georep::replication {

enum class EntryType : uint8_t { kRegular, kDirectory, kSymlink, kOther };

struct ScanEntry {
  std::string path;  // relative to the root; "." for the root itself
  EntryType type = EntryType::kOther;
  uint32_t mode = 0;  // st_mode, type bits included
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint32_t nlink = 0;
  uint64_t dev = 0;  // with ino: hard-link identity
  uint64_t ino = 0;
  uint64_t rdev = 0;  // a device's number
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  std::string symlink_target;  // kSymlink only
  std::vector<Xattr> xattrs;   // when ScanOptions::read_xattrs; sorted by name
  bool xattrs_read = false;    // whether `xattrs` was read (ScanOptions::read_xattrs)
  bool mount_point = false;    // a directory on another file system, not entered
};

struct ScanError {
  std::string path;
  Status status;
};

struct ScanOptions {
  int threads = 4;
  bool cross_mounts = false;
  bool read_xattrs = true;
  bool trusted_xattrs = false;  // also read trusted.* and security.capability (needs root)
  bool acl_xattrs = false;      // also read POSIX ACLs (system.posix_acl_access/_default)
};

struct ScanStats {
  uint64_t entries = 0;
  uint64_t directories = 0;
  uint64_t errors = 0;
  uint64_t vanished = 0;      // gone between readdir and statx
  uint64_t mount_points = 0;  // not entered
};

class ScanSink {
 public:
  virtual ~ScanSink() = default;
  // A batch: a directory's entries (the first batch holds the root "."), sorted by name.
  virtual void OnEntries(std::vector<ScanEntry> entries) = 0;
  virtual void OnError(ScanError error) = 0;
};

// Walks `root`. Non-OK only when the root itself cannot be opened; everything below is
// reported through the sink.
Result<ScanStats> ScanTree(const std::string& root, const ScanOptions& options, ScanSink& sink);

struct ScanResult {
  std::vector<ScanEntry> entries;  // parents before children
  std::vector<ScanError> errors;
  ScanStats stats;
};

// Which xattrs are replicated: user.* always, and with
struct XattrNamespaces {
  bool privileged = false;  // trusted.* and security.capability (reading trusted.* needs root)
  // POSIX ACLs, as the kernel keeps them: system.posix_acl_access, and on directories
  // system.posix_acl_default (raw xattr values, numeric ids, as owners travel).
  bool acls = false;
};

// Reads the replicated xattrs of `path` beneath `root_fd` ("." for the root itself) without
// following a symlink, sorted by name: what a scan without read_xattrs leaves to be read for
// the few entries that are sent.
Status ReadXattrsBeneath(int root_fd, const std::string& path, XattrNamespaces namespaces,
                         std::vector<Xattr>* out);
// user.*, and trusted.* and security.capability with `trusted`.
inline Status ReadXattrsBeneath(int root_fd, const std::string& path, bool trusted,
                                std::vector<Xattr>* out) {
  return ReadXattrsBeneath(root_fd, path, XattrNamespaces{.privileged = trusted}, out);
}

// The same through an open (not O_PATH) descriptor of the entry.
Status ReadXattrsOfFd(int fd, const std::string& path, XattrNamespaces namespaces,
                      std::vector<Xattr>* out);
inline Status ReadXattrsOfFd(int fd, const std::string& path, bool trusted,
                             std::vector<Xattr>* out) {
  return ReadXattrsOfFd(fd, path, XattrNamespaces{.privileged = trusted}, out);
}
// Whether `name` is trusted.* or security.capability.
bool IsPrivilegedXattr(std::string_view name);

// Scans the entry `path` ("." for the root) beneath the open directory `root_fd` and, with
// `deep` when it is a directory, everything beneath it, into memory; paths stay relative to
// the root. No symlink is followed at any level: a directory on the way that was replaced by
// a symlink makes `path` NotFound, as does one that is gone. This is how a live pass looks at
// just the entries that changed.
Result<ScanResult> ScanBeneath(int root_fd, const std::string& path, bool deep,
                               const ScanOptions& options = {});
// ScanTree into memory (for tests and small trees).
Result<ScanResult> ScanTreeToVector(const std::string& root, const ScanOptions& options = {});

}  // namespace georep::replication
