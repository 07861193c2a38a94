// The synced index: what the destination of one built-in session is known to hold, path by
// path, kept in the worker's state directory. It is what lets a worker send only what changed
// -- after a restart too -- without asking the destination.
//
// On disk it is a snapshot (`index`, replaced atomically) plus a log of the changes
// acknowledged since (`index.log`, appended once per acknowledged batch, each record
// checksummed). Loading replays the log over the snapshot and stops at the first torn or
// damaged record: a worker killed while appending loses only the knowledge of that batch,
// which makes it send that batch again -- never the other way round. The log is folded into
// a new snapshot once it outgrows it, so the cost of a commit follows the size of the change,
// not of the tree.
//
// Thread-safety: none; one worker owns its state directory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "replication/scanner.h"

namespace georep::replication {

inline constexpr int64_t kRacyMtime = -2;

// One entry of what the destination holds.
struct IndexEntry {
  EntryType type = EntryType::kOther;
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0, dev = 0, ino = 0;
  // -1: the destination's copy is not known to be current (sent again by the next pass).
  // kRacyMtime: a file sent as it was read, but read in the clock tick of its last change, so
  // that a write after the read may have left its size and mtime as they were: the next pass
  // reads it again (git's "racily clean" entries).
  int64_t mtime_ns = 0;
  // Any change of metadata (mode, owner, xattrs, links) moves ctime: metadata is sent again.
  int64_t ctime_ns = 0;
  std::string target;  // symlinks
  // A regular file with other links (nlink > 1): a write through a path that is gone by the
  // next pass changed those links too, wherever they are.
  bool linked = false;
  bool operator==(const IndexEntry&) const = default;
};
using SyncedIndex = std::map<std::string, IndexEntry>;

// One change of the index: `entry` set, or the path removed when it is empty.
struct IndexDelta {
  std::string path;
  std::optional<IndexEntry> entry;
};

void ApplyDelta(const IndexDelta& delta, SyncedIndex* index);

// `base` as it will be once a pass's changes are applied: the changes are kept beside it,
// nothing of `base` is copied, so a pass costs what it changes, not the size of the tree.
// `base` may change meanwhile, but a path changed here reads as changed here.
class PendingIndex {
 public:
  explicit PendingIndex(const SyncedIndex& base) : base_(&base) {}
  std::optional<IndexEntry> Find(const std::string& path) const;
  void Set(const std::string& path, const IndexEntry& entry) { changes_[path] = entry; }
  void Erase(const std::string& path) { changes_[path] = std::nullopt; }
  // The entries at `path` and beneath it (".": all of them), in path order. `visit` must not
  // change this index or its base.
  void ForEachIn(const std::string& path,
                 const std::function<void(const std::string&, const IndexEntry&)>& visit) const;
  std::vector<std::pair<std::string, IndexEntry>> Subtree(const std::string& path) const;

 private:
  const SyncedIndex* base_;
  std::map<std::string, std::optional<IndexEntry>> changes_;  // nullopt: erased
};

// A snapshot file alone (empty when the file is absent; an index of an older format also
// reads as empty, which makes the next pass compare everything).
// `older_format`: set when the file is of the previous format (read all the same).
Result<SyncedIndex> LoadIndex(const std::string& path, bool* older_format = nullptr,
                              Env* env = Env::Default());
// Replaces the snapshot at `path` atomically, synced before it is renamed into place.
Status SaveIndex(const std::string& path, const SyncedIndex& index, Env* env = Env::Default());

class IndexStore {
 public:
  // `env` (not owned) holds the files.
  explicit IndexStore(const std::string& state_dir, Env* env = Env::Default());

  // The snapshot with the log replayed over it. A damaged tail of the log is dropped (and
  // reported by dropped_log_bytes()); the next Fold() rewrites both files.
  Result<SyncedIndex> Load();
  // Appends one batch of changes (already applied to `index`, the whole index after them).
  // Folds the log into a new snapshot when the log has grown past the snapshot's size.
  Status Append(const std::vector<IndexDelta>& deltas, const SyncedIndex& index);
  // Writes `index` as the snapshot and empties the log.
  Status Fold(const SyncedIndex& index);

  uint64_t log_bytes() const { return log_bytes_; }
  uint64_t dropped_log_bytes() const { return dropped_log_bytes_; }
  uint64_t folds() const { return folds_; }

 private:
  Env* env_;
  std::string snapshot_path_, log_path_;
  uint64_t snapshot_bytes_ = 0, log_bytes_ = 0, dropped_log_bytes_ = 0, folds_ = 0;
  bool older_format_ = false;  // loaded from an older format: the next Append folds
};

}  // namespace georep::replication
