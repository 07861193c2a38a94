// Internal to the Replicator (replicator*.cc): a pass's batches -- what was sent up to each
// Barrier (Batch), how the agent's replies settle it (ParseReplies, Resolve) and what it then
// changes in the index (SettledDeltas) -- and the small path helpers the pass shares. Not for
// other users.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/block_delta.h"
#include "replication/reconcile.h"
#include "replication/replicator.h"
#include "replication/scanner.h"
#include "replication/synced_index.h"
#include "replication/wire.h"

namespace georep::replication {
namespace replicator_internal {

// Whether `path` is `dir` or beneath it ("." and "": everything is).
bool Under(const std::string& path, const std::string& dir);
// The directory `path` is in: "a/b/c" -> "a/b", "c" -> ".".
std::string ParentOf(const std::string& path);
inline IndexEntry FromScan(const ScanEntry& e) {
  return IndexEntryOf(e);
}
// The destination holds this content already (metadata aside).
bool SameContent(const IndexEntry& i, const ScanEntry& e);
// A time-out for messages: "30 minutes", "60 s", "250 ms".
std::string DurationText(int64_t ms);

// A pass commits (Barrier, Ack, index updated) every kBatchOps operations or kBatchBytes
// sent, with up to kBatchesInFlight batches sent ahead of the agent's acknowledgements.
inline constexpr size_t kBatchOps = 1000;
inline constexpr uint64_t kBatchBytes = 16u << 20;
inline constexpr size_t kBatchesInFlight = 4;
inline constexpr size_t kStreamQueueFiles = 256;  // files waiting for one extra stream, at most

// The agent's refusals, by the seq of the message refused.
using Refusals = std::map<uint64_t, AgentRefusal>;
// Whether the source file at `path` is no longer what `sent` recorded for it (changed,
// replaced or gone since it was read).
using MovedOn = std::function<bool(const std::vector<IndexDelta>& sent, const std::string& path)>;

// Reads the replies in `buffer`: Acks advance `acked`, refusals go to `refused` (by seq).
Status ParseReplies(Decoder* decoder, std::string* buffer, uint64_t* acked, Refusals* refused);

// A batch sent up to its Barrier and not yet acknowledged.
struct Batch {
  uint64_t barrier = 0;
  std::vector<IndexDelta> deltas;
  std::map<uint64_t, std::string> op_path;                   // last seq of each operation
  std::vector<std::pair<std::string, std::string>> refused;  // known before it was sent
  // Entries gone from the source between the scan and their sending: not failures; the
  // change that took them away makes the next pass look at them again.
  std::set<std::string> resend;
  // What a Rename of this batch put at each path (a moved directory's contents too): what the
  // destination holds there once it is applied, whatever comes after it for that path.
  std::map<std::string, IndexEntry> moved_in;
  // SetMetas sent without the entry's xattrs, which could not be read: it was renamed away (or
  // removed) since the scan. The entry is there at the destination; its metadata is not.
  std::set<std::string> meta_unsent;
  // The file contents this batch carries: logical bytes, by path.
  std::map<std::string, uint64_t> data_bytes;
};

// Records that the operation just sent for `path` ended at `last_seq`: the agent's refusal of
// any of its messages is matched with it (Resolve: the first operation ending at or after the
// refused seq). An operation that sent nothing -- a file gone before it could be opened, a
// socket not replicated -- ends at no seq of its own: `last_seq` is still that of the operation
// before it (or of the last Barrier, `*marked`), which keeps its place. (Recorded there, the
// operation that sent nothing took the refusals of the one before it, which was then recorded
// as applied.)
void NoteOperation(std::map<uint64_t, std::string>* op_path, uint64_t* marked, uint64_t last_seq,
                   const std::string& path);

// What the sender could not send goes to `b`: an entry gone from the source, or no longer the
// one scanned (kNotFound, and `moved_on(b->deltas, path)` agrees: the source shows it changed)
// is looked at again; anything else is refused -- also a kNotFound that the source does not
// bear out (a source root replaced under the worker, a name that lists but cannot be opened).
void NoteUnsent(const ScanError& e, Batch* b, const MovedOn& moved_on);

// A SetMeta the sender could not send whole (TreeSender::TakeMetaErrors): an entry gone since
// the scan went without its xattrs -- recorded as there, its metadata not current; any other
// error is a failure.
void NoteMetaUnsent(const ScanError& e, Batch* b);

// An acknowledged batch, ready for the index: its deltas, except for `refused` (failures, with
// why) and `resend` (files rewritten while the agent copied them, or gone before they were
// read: looked at again, not failures).
struct SettledBatch {
  std::vector<IndexDelta> deltas;
  std::vector<std::pair<std::string, std::string>> refused;
  std::set<std::string> resend;
  // The agent found a parent or entry missing that the index says it holds: the index is wrong
  // about the destination there (a crash), and resending cannot fix it -- reconciling does.
  bool not_found = false;
  std::map<std::string, IndexEntry> moved_in;  // Batch::moved_in
  std::set<std::string> meta_unsent;           // Batch::meta_unsent
  // File content bytes the destination applied: Batch::data_bytes but for what was refused or
  // is to be looked at again.
  uint64_t applied_bytes = 0;
};

// Matches the agent's refusals up to `b`'s Barrier with the operations of `b` (and takes them
// from `refused`). `moved_on(deltas, path)`: whether the source file is no longer what was sent.
SettledBatch Resolve(Batch& b, Refusals* refused, const MovedOn& moved_on);

// What an acknowledged batch changes in `index`: its deltas, except for the paths refused or to
// be looked at again, which stay as the destination holds them, marked not current -- as the
// index has them (mtime -1: sent again next pass), or, for a path the index does not have, as a
// Rename of this batch put it there (the Rename was applied; what was refused came after it:
// its metadata is sent again, ctime -1, not its content).
// A path neither has is not at the destination: it leaves the index (sent as new next pass).
// (A file a rename of its directory moved, whose sending then failed, used to leave the index
// while the destination held it at its new path: nothing ever deleted it there.)
std::vector<IndexDelta> SettledDeltas(SettledBatch& b, const SyncedIndex& index);

// A file for an extra stream, and what the index records for it once it is applied.
struct FileJob {
  ScanEntry entry;
  IndexEntry recorded;
  std::optional<BlockSignature> basis;  // the destination's version (block delta)
  uint64_t bytes = 0;
};

}  // namespace replicator_internal
using namespace replicator_internal;  // NOLINT(google-build-using-namespace): internal header
}  // namespace georep::replication
