// ChangeJournal: the changes a worker has seen (from inotify or fanotify) and not yet synced,
// on stable storage before the worker acts on them (`journal` in the state directory).
//
// The live capture forgets everything when the worker stops; the index and a full crawl
// recover most of it, but not a file rewritten within one tick of the file system's clock
// with the same size (its size and mtime look unchanged). The journal keeps those: after a
// restart the worker replays it first -- the History Crawl -- and only then crawls the whole
// tree for what changed while it was down.
//
// Records are appended, each with its XXH3-64; loading stops at the first torn or damaged one
// (a record lost that way is a batch the full crawl still compares, never a lost change of
// content: records are written and fdatasync'ed before the pass that uses them starts). A torn
// tail -- a failed append, or a crash in one -- is cut off before the next record is appended,
// so records written after a failure are loaded too.
//
// Thread-safety: none; one worker owns its state directory.
#pragma once

#include <set>
#include <string>

#include "base/env.h"
#include "base/status.h"

namespace georep::replication {

struct JournaledChanges {
  std::set<std::string> directories;  // looked at whole (each entry beneath them)
  std::set<std::string> entries;      // looked at alone
  std::set<std::string> written;      // files written to
  bool empty() const { return directories.empty() && entries.empty() && written.empty(); }
};

class ChangeJournal {
 public:
  // `env` (not owned) holds the file.
  explicit ChangeJournal(std::string state_dir, Env* env = Env::Default());
  // Everything recorded since the last Clear().
  Result<JournaledChanges> Load() const;
  // Appends and syncs one record.
  Status Append(const JournaledChanges& changes);
  // Everything recorded is synced now.
  Status Clear();

 private:
  // Rewrites the journal with its whole records only (atomically), if it has a torn tail.
  Status CutTornTail();

  Env* env_;
  std::string path_;
  // The file may end in a torn record: at the start (a crash), and after a failed append.
  bool may_be_torn_ = true;
};

}  // namespace georep::replication
