// Reconciliation: the synced index of one scope rebuilt from the destination's own account of
// it (a ListTree's TreeListing), for when the index may be wrong about the destination.
//
// The index records only what the agent acknowledged. After a kill -- of the worker, the
// agent, the ssh between them -- the destination may hold operations applied but never
// acknowledged (a directory already renamed, a link already made), or the index may hold a
// batch whose Ack came but whose effect a crashed destination lost. Sending against such an
// index fails forever (a parent that is not where the index says) or leaves the destination
// silently different (links split, directory times off). ReconcileIndex puts the destination's
// truth in the index instead, so that the next pass sends exactly what differs:
//  * an entry the destination holds as the source has it (type, size and mtime for a file, the
//    target of a symlink; a directory) is recorded as synced: its data is not read again -- a
//    file only where the index records that version (size and mtime, by source inode) as sent,
//    or the index is empty (a first sync: rsync's quick check); else it is sent again;
//    a mode (or a directory's mtime) that differs is recorded as not current, so only its
//    metadata goes again;
//  * an entry that differs is recorded as not current (sent again, a file whole);
//  * an entry the destination lacks leaves the index (sent as new);
//  * an entry only the destination has enters the index (the pass deletes it) -- as the index
//    recorded it, with its source inode, when the index has it there and the destination holds
//    its content: the source renamed it, and the pass renames it there instead of sending it
//    again;
//  * a file whose source links are separate files at the destination (several inodes) is
//    named in `relink`: the pass joins its paths again.
// A directory the destination holds under a name the source has left since (renamed twice, the
// first rename applied but never recorded) is not matched with the source's: it is deleted and
// the source's sent anew. Without a source scan, the index's own entries stand for the source.
// Owners and xattrs are not listed: an entry whose metadata the index does not already record as
// sent (the same inode and ctime) has its metadata sent again, never its data.
//
// Thread-safety: a pure function of its arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/scanner.h"
#include "replication/synced_index.h"
#include "replication/wire.h"

namespace georep::replication {

// What the index records for a scanned entry.
IndexEntry IndexEntryOf(const ScanEntry& e);

struct ReconcileCounts {
  uint64_t kept = 0;      // as recorded, or as the source has it: not sent again
  uint64_t meta = 0;      // content in place, metadata to send again
  uint64_t stale = 0;     // to send again
  uint64_t missing = 0;   // not at the destination: left the index
  uint64_t extra = 0;     // only at the destination: entered the index, to be deleted
  uint64_t relinked = 0;  // files whose links are to be joined again
};

struct Reconciliation {
  std::vector<IndexDelta> deltas;                  // for ApplyDelta, in path order
  std::set<std::pair<uint64_t, uint64_t>> relink;  // source (dev, ino)
  ReconcileCounts counts;
};

// `scope`: "." or a path; only what is at or beneath it is looked at. `source`: the source's
// scan of the scope (nullptr: none). `destination`: its listing, complete (a listing that
// could not read everything must not be used: what it missed would leave the index).
// `skip`: paths left alone (excluded from the session), beneath them too; may be empty.
Reconciliation ReconcileIndex(const SyncedIndex& index, const std::string& scope,
                              const std::vector<ScanEntry>* source,
                              const std::vector<ListedEntry>& destination,
                              const std::function<bool(const std::string&)>& skip = {});

}  // namespace georep::replication
