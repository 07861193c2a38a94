// ChangeWatcher: the worker's live change capture, the source of the Changelog Crawl.
//
// A watcher is started before the crawl it complements (marks first, then the crawl: nothing
// changed during the crawl is missed) and is then drained, without blocking, whenever its fd
// is readable. Draining turns the kernel's events into a ChangeSet: the entries that changed,
// the directories that appeared (looked at whole), the files written to (sent again even when
// size and mtime look unchanged), and whether events were lost (only a full pass is sure then).
//
//  - FanotifyWatcher: one filesystem mark (fanotify with FAN_REPORT_DFID_NAME: Linux >= 5.9,
//    CAP_SYS_ADMIN) covers the whole tree, new directories included, with no setup per
//    directory and a queue that cannot overflow. The mark sees the whole file system, so each
//    event's directory file handle is mapped to a path beneath the source -- from a cache
//    seeded at Start and completed with open_by_handle_at -- or dropped; that is also what
//    keeps the worker's state directory and a destination on the same file system out (the
//    price: the worker wakes for activity anywhere on that file system, and drops it). A
//    directory moved or removed beneath the source clears the cache (paths below it changed);
//    one moved elsewhere only makes the watcher check where the source itself is now. A
//    source that spans several file systems cannot be covered by one mark (nor is a file
//    system mounted inside the source later seen).
//  - InotifyWatcher: a watch on every directory, added as directories appear (a new directory
//    and those already inside it are watched when its creation is read; what they held by
//    then is covered by the new directory's subtree, which the pass looks at whole).
//
// Never silently blind: a directory inotify cannot watch (the watch limit reached, ENOSPC;
// ENOMEM; EACCES...) is recorded with why, and RescanUnwatched -- called every few seconds
// by the worker while there are any -- tries its watch again and then lists it, naming what
// changed there since the last look as events would. The cost of a round is the unwatched
// directories' own entries (one readdir, one fstatat each), not the tree's. GapReason()
// says, for the log and the status, what is not seen as it happens and how to fix it.
//
// MakeChangeWatcher picks one: kAuto tries fanotify and falls back to inotify (logging why;
// a resource the kernel ran out of -- fanotify groups -- is also a standing reason);
// kFanotify fails instead of falling back.
//
// The kernel calls that can fail for want of a resource go through CaptureKernel, so that
// tests inject limits and failures instead of changing the machine's sysctls.
//
// Thread-safety: none; one thread starts and drains a watcher.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "base/status.h"
#include "replication/path_beneath.h"

namespace georep::replication {

enum class ChangeCapture { kAuto, kFanotify, kInotify };

// The kernel's limits on change capture, -1 where unknown. inotify's are per user: every
// process of the worker's user shares them. In a user namespace the lower of the system's
// (fs.inotify.*) and the namespace's (user.max_inotify_*) applies.
struct CaptureLimits {
  int64_t max_user_watches = -1;          // fs.inotify.max_user_watches
  int64_t ns_max_watches = -1;            // user.max_inotify_watches (this user namespace)
  int64_t max_user_instances = -1;        // fs.inotify.max_user_instances
  int64_t fanotify_max_user_groups = -1;  // fs.fanotify.max_user_groups (Linux >= 5.13)
  int64_t fanotify_max_user_marks = -1;   // fs.fanotify.max_user_marks
  // The inotify watches this user may hold at most (-1: unknown).
  int64_t watches() const;
};

// The kernel calls of change capture that can run out of something. The real one is
// SystemCaptureKernel(); tests pass one that fails on demand.
class CaptureKernel {
 public:
  virtual ~CaptureKernel() = default;
  // As the system calls: -1 with errno set on failure.
  virtual int InotifyInit(int flags) = 0;
  virtual int InotifyAddWatch(int fd, const char* path, uint32_t mask) = 0;
  virtual int FanotifyInit(unsigned flags, unsigned event_f_flags) = 0;
  virtual CaptureLimits Limits() = 0;  // from /proc/sys
};
CaptureKernel& SystemCaptureKernel();

struct ChangeWatcherOptions {
  CaptureKernel* kernel = nullptr;  // null: SystemCaptureKernel()
  // At most this many inotify watches, as if the kernel's limit were reached there (0: as
  // many as the kernel gives). Leaves watches to the user's other programs; tests use it.
  int64_t max_watches = 0;
};

std::string_view ChangeCaptureName(ChangeCapture mode);  // "auto", "fanotify", "inotify"
Result<ChangeCapture> ParseChangeCapture(std::string_view name);

// What the events drained so far say. Paths are relative to the source ("." for the source
// itself). A pass looks at each named entry alone (and at its directory, whose mtime the
// change moved) -- its cost grows with the changes, not with the directories they are in --
// and at everything beneath a directory that appeared: what was made in a new directory
// before the capture saw it, or in one while it was outside the source, has no event here.
struct ChangeSet {
  std::set<std::string> entries;   // created, removed, moved away or in, written, chmod'ed...
  std::set<std::string> subtrees;  // directories created or moved in
  std::set<std::string> written;   // files written to (also in `entries`)
  // Files created or written and not closed since, as far as the events tell: a writer may
  // still be at them. (fanotify merges a file's events while they wait: a close merged with
  // a later write reads as closed. Only how long the worker waits depends on it.)
  std::set<std::string> unclosed;
  bool overflow = false;  // events were lost: the next pass must be a full one
  bool changed = false;   // an event beneath the source arrived (reset by the caller)
  bool empty() const { return entries.empty() && subtrees.empty(); }
};

class ChangeWatcher {
 public:
  virtual ~ChangeWatcher() = default;
  virtual const char* kind() const = 0;  // "fanotify" or "inotify"
  // Readable when events wait to be drained.
  virtual int fd() const = 0;
  // Sets the marks. Call once, before the crawl.
  virtual Status Start() = 0;
  // Reads every waiting event into `changes` without blocking.
  virtual Status Drain(ChangeSet* changes) = 0;

  // Where it is blind. The directories it has no watch on (relative), each with the errno of
  // its last try; empty for a capture that covers the tree as one (fanotify).
  virtual const std::map<std::string, int>& unwatched() const;
  // Tries each unwatched directory's watch again, then lists it and names what changed in it
  // since the last look into `changes` (entries; new directories also as subtrees, and
  // watched or recorded as unwatched in turn). A directory watched now drops out after this
  // last look. Costs one readdir per unwatched directory and one fstatat per entry in it.
  virtual Status RescanUnwatched(ChangeSet* /*changes*/) { return Status::Ok(); }
  // What it needs of the kernel against what the kernel allows, as logfmt fields for the
  // worker's start line ("directories=2001 watches=1000 max_user_watches=1000 ...").
  virtual std::string Needs() const = 0;
  // Why changes somewhere are not seen as they happen and what would fix it, for the log
  // and the status ("" when nothing is missed).
  virtual std::string GapReason() const { return ""; }
};

class InotifyWatcher final : public ChangeWatcher {
 public:
  explicit InotifyWatcher(std::string source, ChangeWatcherOptions options = {});
  const char* kind() const override { return "inotify"; }
  int fd() const override { return fd_.get(); }
  Status Start() override;
  Status Drain(ChangeSet* changes) override;
  const std::map<std::string, int>& unwatched() const override { return unwatched_; }
  Status RescanUnwatched(ChangeSet* changes) override;
  std::string Needs() const override;
  std::string GapReason() const override;
  size_t watched() const { return watches_.size(); }

 private:
  // What a directory held when it was last looked at: name -> identity and ctime (0: look
  // again next time -- it changed too recently to trust an equal ctime).
  struct Seen {
    uint64_t ino = 0;
    int64_t ctime_ns = 0;
    bool dir = false;
  };
  using Listing = std::map<std::string, Seen>;
  // Watches `rel` and every directory beneath it.
  void WatchTree(const std::string& rel);
  // Adds a watch on `rel` (within max_watches); the watch descriptor, or -1 with errno.
  int AddWatch(const std::string& rel);
  bool Watched(const std::string& rel) const;
  // Lists directory `rel` beneath the source (no symlink followed).
  Result<Listing> List(const std::string& rel, int64_t hot_after_ns) const;

  std::string source_;
  ChangeWatcherOptions options_;
  CaptureKernel* kernel_;
  UniqueFd fd_;
  UniqueFd root_;                                    // the source, for listings
  std::map<int, std::string> watches_;               // watch descriptor -> relative directory
  std::unordered_map<std::string, int> watched_;     // the reverse (may hold stale paths)
  std::map<std::string, int> unwatched_;             // relative directory -> errno
  std::unordered_map<std::string, Listing> listed_;  // what each unwatched one held
  CaptureLimits limits_;                             // read at Start
};

class FanotifyWatcher final : public ChangeWatcher {
 public:
  explicit FanotifyWatcher(std::string source, ChangeWatcherOptions options = {});
  const char* kind() const override { return "fanotify"; }
  int fd() const override { return fd_.get(); }
  // FailedPrecondition when fanotify cannot serve this source (not root, an old kernel, a
  // file system without file handles, a tree spanning several file systems).
  Status Start() override;
  Status Drain(ChangeSet* changes) override;
  std::string Needs() const override;
  // Directories beneath the source that had to be looked up by handle (open_by_handle_at):
  // neither seeded at Start nor known from an earlier event since the caches were cleared.
  uint64_t handles_looked_up() const { return looked_up_; }

 private:
  enum class Where { kBeneath, kOutside, kUnknown };
  // Where the directory of an event's file handle (struct file_handle, unaligned) is: beneath
  // the source (`dir` set, relative), outside it or gone, or unknown (the lookup failed).
  Where Locate(const unsigned char* handle, std::string* dir);
  // A directory beneath the source moved or was removed: the paths known so far may be stale.
  void ForgetDirectories();
  // Reads where the source is now into root_path_ (false when /proc cannot tell).
  bool FindRoot();
  std::optional<std::string> Relative(const std::string& absolute) const;

  std::string source_;
  CaptureKernel* kernel_;
  UniqueFd fd_;
  UniqueFd root_;          // the source (O_PATH): open_by_handle_at's mount fd
  std::string root_path_;  // where the source is now, as /proc/self/fd shows it
  std::unordered_map<std::string, std::string> dirs_;  // handle bytes -> relative directory
  std::unordered_set<std::string> outside_;            // handles known not to be beneath it
  uint64_t looked_up_ = 0;
  size_t directories_ = 0;  // seen at Start
  CaptureLimits limits_;    // read at Start
};

// What an inotify_add_watch failure with `err` means, and what to do about it, for the log
// and the status ("the inotify watch limit is reached (fs.inotify.max_user_watches=8192 ...").
std::string ExplainWatchError(int err, const CaptureLimits& limits, int64_t max_watches);

// A started watcher of `source` as `mode` asks. With kAuto, `fallback` (if given) is set to
// why fanotify was not used ("" when it was); `standing` to that reason again when it is a
// resource the kernel ran out of (fanotify groups, memory) -- a reason to show while it lasts,
// not just a configuration.
Result<std::unique_ptr<ChangeWatcher>> MakeChangeWatcher(const std::string& source,
                                                         ChangeCapture mode,
                                                         ChangeWatcherOptions options = {},
                                                         std::string* fallback = nullptr,
                                                         std::string* standing = nullptr);

}  // namespace georep::replication
