// Internal to the Replicator (replicator_pass*.cc): Replicator::PassRun, one pass of the worker.
// Not for other users.
#pragma once

#include <time.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replication/replicator.h"
#include "replication/replicator_batch.h"
#include "replication/replicator_streams.h"

namespace georep::replication {

// One pass of Replicator::Pass, from what it looks at to what the index records:
//  1. Plan: the subtrees it scans whole and the entries it looks at alone (an incremental
//     pass), or the whole source (a full one); then the scan.
//  2. Compare: each entry seen against `next_`, the index as it will be once everything this
//     pass sends is applied. What differs is sent (Visit: a move, a new or changed entry, a
//     metadata change); then the deletes, deepest first; then the directories' metadata,
//     which their contents' arrival would have moved.
//  3. Commit: every kBatchOps operations or kBatchBytes, a Barrier. Up to kBatchesInFlight
//     batches travel ahead of the agent's Acks; an acknowledged batch's deltas reach the index
//     (and its log) -- except what the agent refused, which stays unsynced.
// Files for the extra streams (sync_jobs > 1) are dispatched to them as they are seen, or
// wait for stream 0 to create their directory (Release).
class Replicator::PassRun {
 public:
  PassRun(Replicator& r, const PassScope& changed, bool full)
      : r_(r), changed_(changed), full_(full), next_(r.index_) {}
  Status Run();

 private:
  Status Plan(int root);
  bool Covered(const std::string& path) const;
  bool Unknown(const std::string& path) const;
  void NoteWrittenAndLinked();
  Status Visit(const ScanEntry& e);
  Status SendMoved(const ScanEntry& e, const std::string& from, const IndexEntry& now);
  // `known`: what the index has for it (nothing when new).
  Status SendNewOrChanged(const ScanEntry& e, const std::optional<IndexEntry>& known,
                          const IndexEntry& now);
  Status SendMetaChange(const ScanEntry& e, const IndexEntry& now);
  Status SendDeletes();
  Status SendWaiting();
  Status SendDirectoryMeta();
  Status Finish();

  // `next_` and the batch's deltas.
  void Put(const std::string& path, const IndexEntry& entry, bool final_meta_pending);
  void Erase(const std::string& path);
  void Touch(const std::string& path);
  void DirectoryMetaLater(const ScanEntry& e, const IndexEntry& now);

  // Batches.
  Status Mark(const std::string& path);
  Status Commit(bool final);
  Status Collect(size_t keep, bool wait);
  Status Apply(SettledBatch b);
  Status TakeStreams();

  // The extra streams.
  Status Dispatch(FileJob& job);
  Status Release();
  Status FinishStreams();
  bool SameDirectory(const std::optional<IndexEntry>& known, const std::string& dir) const;
  bool ParentAcknowledged(const std::string& path) const;

  Replicator& r_;
  const PassScope& changed_;
  const bool full_;
  const int64_t started_ = r_.clock_->NowMillis();
  // The file systems' clock (the coarse one) when the pass began, before it read anything: a
  // file whose mtime is not older was (or may be) changed while the pass read it, within one
  // clock tick -- its size and mtime cannot vouch for what was read.
  const int64_t racy_from_ns_ = [] {
    timespec t{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &t);
    return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
  }();
  bool Racy(const ScanEntry& e) const {
    // A future mtime (set by hand, or a clock put back) is not a write during the read.
    return e.type == EntryType::kRegular && e.mtime_ns >= racy_from_ns_ &&
           e.mtime_ns <= racy_from_ns_ + 60'000'000'000LL;
  }

  // Plan.
  std::vector<std::string> scopes_;    // looked at whole: what the index has there and the
  std::set<std::string> scope_set_;    // scan does not see is gone
  std::vector<ScanEntry> entries_;     // what the pass looks at, parents before children
  std::vector<ScanError> unreadable_;  // neither sent nor deleted: unknown this pass

  // Compare. `next_`: the index as it will be (index_ and this pass's changes beside it, not a
  // copy: a live pass costs what it changes, not the size of the tree); each change of it is
  // also a delta of the batch being sent, which reaches index_ only when the agent
  // acknowledges the batch's Barrier.
  PendingIndex next_;
  std::vector<IndexDelta> deltas_;
  std::map<std::string, IndexEntry> moved_in_;  // the batch's Batch::moved_in
  std::map<std::string, uint64_t> data_bytes_;  // the batch's Batch::data_bytes
  // Directories whose metadata is sent at the end of the pass (their mtime changes while
  // their contents arrive): recorded as not current (mtime -1) until their SetMeta is sent.
  std::set<std::string> provisional_;
  std::vector<const ScanEntry*> dirs_meta_;  // their SetMeta comes after all their contents
  // Directories whose entries change at the destination (their mtime there moves): their
  // SetMeta is sent again at the end.
  std::set<std::string> touched_;
  std::set<std::string> seen_;
  // Inodes that left the index paths in scope: rename candidates.
  std::map<std::pair<uint64_t, uint64_t>, std::string> gone_;
  std::set<std::string> present_;  // the paths of entries_
  // Files moved with their directory in this pass, by source inode: their new path.
  std::map<std::pair<uint64_t, uint64_t>, std::string> moved_files_;
  // Files the capture saw written, by inode: a write through one link (or before a rename) is
  // a change of every path of that inode, whatever size and mtime say.
  std::set<std::pair<uint64_t, uint64_t>> written_;
  bool linked_change_ = false;  // a multi-link file changed: its other links may be elsewhere
  std::set<std::pair<uint64_t, uint64_t>> relink_next_;  // ... which the next full pass rejoins
  SendReport report_;
  uint64_t data_ops_ = 0, entry_ops_ = 0, meta_ops_ = 0;

  // Commit. Batches sent up to their Barrier, not yet acknowledged: the worker keeps sending
  // while the agent applies (a few batches ahead at most), so neither waits for the other; a
  // restart sends again at most what was in flight.
  std::deque<Batch> in_flight_;
  std::map<uint64_t, std::string> op_path_;       // last seq of each operation -> its path
  uint64_t marked_seq_ = r_.sender_->last_seq();  // where the last operation (or Barrier) ended
  uint64_t settled_batches_ = 0;                  // of stream 0, in this pass
  uint64_t committed_bytes_ = r_.sink_->bytes;
  size_t ops_since_commit_ = 0;
  size_t skipped_done_ = 0;         // report_.skipped already handed to a batch
  size_t not_replicated_done_ = 0;  // ... and report_.not_replicated
  std::vector<std::pair<std::string, std::string>> refused_all_;

  // The extra streams: files whose directory stream 0 creates (or moves into place) in this
  // pass wait for its acknowledgement.
  std::vector<FileJob> waiting_;
  size_t waiting_files_ = 0;    // since stream 0's last commit
  uint64_t waiting_bytes_ = 0;  // ...
  uint64_t released_at_ = 0;    // settled_batches_ at the last Release
  // Files whose directory never arrived (refused): sent again next pass.
  std::vector<std::pair<std::string, std::string>> orphaned_;
  std::map<std::string, const ScanEntry*> scanned_dirs_;  // by path, with extra streams only
};

}  // namespace georep::replication
