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
// MakeChangeWatcher picks one: kAuto tries fanotify and falls back to inotify (logging why);
// kFanotify fails instead of falling back.
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
};

class InotifyWatcher final : public ChangeWatcher {
 public:
  explicit InotifyWatcher(std::string source);
  const char* kind() const override { return "inotify"; }
  int fd() const override { return fd_.get(); }
  Status Start() override;
  Status Drain(ChangeSet* changes) override;

 private:
  // Watches `rel` and every directory beneath it.
  void WatchTree(const std::string& rel);

  std::string source_;
  UniqueFd fd_;
  std::map<int, std::string> watches_;  // watch descriptor -> relative directory
};

class FanotifyWatcher final : public ChangeWatcher {
 public:
  explicit FanotifyWatcher(std::string source);
  const char* kind() const override { return "fanotify"; }
  int fd() const override { return fd_.get(); }
  // FailedPrecondition when fanotify cannot serve this source (not root, an old kernel, a
  // file system without file handles, a tree spanning several file systems).
  Status Start() override;
  Status Drain(ChangeSet* changes) override;
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
  UniqueFd fd_;
  UniqueFd root_;          // the source (O_PATH): open_by_handle_at's mount fd
  std::string root_path_;  // where the source is now, as /proc/self/fd shows it
  std::unordered_map<std::string, std::string> dirs_;  // handle bytes -> relative directory
  std::unordered_set<std::string> outside_;            // handles known not to be beneath it
  uint64_t looked_up_ = 0;
};

// A started watcher of `source` as `mode` asks.
Result<std::unique_ptr<ChangeWatcher>> MakeChangeWatcher(const std::string& source,
                                                         ChangeCapture mode);

}  // namespace georep::replication
