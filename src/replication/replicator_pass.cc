// Replicator::Pass: one pass, from what it looks at to what the index records.
#include "replication/replicator_pass.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/log.h"
#include "replication/replicator.h"
#include "replication/replicator_streams.h"

namespace georep::replication {

Status Replicator::Pass(const PassScope& changed, bool full) {
  // A failed pass may have left files in an extra stream: this worker restarts instead.
  for (auto& stream : streams_)
    if (!stream->Idle())
      return Status::Unavailable("a transfer stream still holds files of a failed pass");
  return PassRun(*this, changed, full).Run();
}

Status Replicator::PassRun::Run() {
  // The source is opened once; everything in it is looked at beneath it, never through a
  // symlink. A source that is gone fails the pass: it never reads as empty (which would
  // delete everything at the destination).
  UniqueFd root(::open(r_.options_.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "cannot open source root", r_.options_.source);
  GEOREP_RETURN_IF_ERROR(Plan(root.get()));
  const int64_t planned = r_.clock_->NowMillis();
  NoteWrittenAndLinked();
  if (!r_.streams_.empty())
    for (const ScanEntry& e : entries_)
      if (e.type == EntryType::kDirectory) scanned_dirs_[e.path] = &e;
  size_t looked_at = 0;
  for (const ScanEntry& e : entries_) {
    // Files are waiting for stream 0's Acks: read them now and then, not only at its commits.
    if (!waiting_.empty() && ++looked_at % 64 == 0)
      GEOREP_RETURN_IF_ERROR(Collect(kBatchesInFlight, false));
    if (!waiting_.empty() && settled_batches_ != released_at_) GEOREP_RETURN_IF_ERROR(Release());
    GEOREP_RETURN_IF_ERROR(Visit(e));
  }
  if (!r_.options_.ignore_deletes) GEOREP_RETURN_IF_ERROR(SendDeletes());
  GEOREP_RETURN_IF_ERROR(SendWaiting());
  GEOREP_RETURN_IF_ERROR(FinishStreams());
  GEOREP_RETURN_IF_ERROR(SendDirectoryMeta());
  r_.status_.pending_entry = entry_ops_;
  r_.status_.pending_data = data_ops_;
  r_.status_.pending_meta = meta_ops_;
  if (entry_ops_ + data_ops_ + meta_ops_ > 0) r_.WriteStatus();
  const int64_t sent = r_.clock_->NowMillis();
  GEOREP_RETURN_IF_ERROR(Commit(true));
  spdlog::debug("msg=\"pass phases\" plan_ms={} send_ms={} acked_ms={}", planned - started_,
                sent - planned, r_.clock_->NowMillis() - sent);
  return Finish();
}

// What the pass looks at: scopes_ (scanned whole) and entries_ (those, and the entries of an
// incremental pass looked at alone), excluded paths left out.
Status Replicator::PassRun::Plan(int root) {
  // Without xattrs: ctime tells whether they changed, and the sender reads them for the few
  // entries it sends (two system calls per entry saved on every scan).
  ScanOptions scan_options;
  scan_options.read_xattrs = false;
  // The subtrees of an incremental pass are mostly small: on this thread.
  if (!full_) scan_options.threads = 1;

  std::vector<std::string> subtrees;
  if (full_) subtrees.push_back(".");
  std::vector<ScanEntry> alone;
  if (!full_) {
    subtrees.assign(changed_.subtrees.begin(), changed_.subtrees.end());
    // Each changed entry, and its directory: the change moved the directory's mtime.
    std::set<std::string> names;
    for (const std::string& p : changed_.entries) {
      names.insert(p);
      if (p != ".") names.insert(ParentOf(p));
    }
    for (const std::string& p : names) {
      auto r = ScanBeneath(root, p, false, scan_options);
      if (!r.ok()) {
        // Gone: so is everything the index has beneath it. Unreadable: reported, and nothing
        // beneath it deleted.
        subtrees.push_back(p);
        continue;
      }
      ScanEntry& e = r->entries.front();
      auto known = r_.index_.find(p);
      const bool was_dir = known != r_.index_.end() && known->second.type == EntryType::kDirectory;
      const bool is_dir = e.type == EntryType::kDirectory;
      if ((was_dir || is_dir) &&
          !(was_dir && is_dir && known->second.ino == e.ino && known->second.dev == e.dev)) {
        subtrees.push_back(p);  // a directory appeared or was replaced: all of it
      } else if (e.type == EntryType::kRegular && e.nlink > 1 && p != ".") {
        // A file with other links: its directory whole, so that links there are joined (a
        // link elsewhere is joined by the full pass that a change of it asks for).
        subtrees.push_back(ParentOf(p));
      } else {
        alone.push_back(std::move(e));
      }
    }
  }
  // Subtrees inside another are covered by it (a directory sorts before what is inside it).
  std::sort(subtrees.begin(), subtrees.end());
  for (const auto& s : subtrees)
    if (!Covered(s)) {
      scopes_.push_back(s);
      scope_set_.insert(s);
    }
  if (scope_set_.count(".")) scopes_ = {"."};

  for (const auto& scope : scopes_) {
    auto scanned = ScanBeneath(root, scope, true, scan_options);
    if (!scanned.ok()) {
      if (scanned.status().code() == StatusCode::kNotFound && scope != ".")
        continue;  // gone: what the index has beneath it is deleted
      unreadable_.push_back({scope, scanned.status()});
      continue;
    }
    for (auto& e : scanned->entries)
      if (!r_.Excluded(e.path)) entries_.push_back(std::move(e));
    for (auto& e : scanned->errors) unreadable_.push_back(std::move(e));
  }
  if (!alone.empty()) {
    for (auto& e : alone)
      if (!Covered(e.path) && !r_.Excluded(e.path)) entries_.push_back(std::move(e));
    // Parents before children, as a scan delivers them.
    std::sort(entries_.begin(), entries_.end(),
              [](const ScanEntry& a, const ScanEntry& b) { return a.path < b.path; });
  }
  r_.status_.pass_scanned = entries_.size();
  // Excluded directories' contents too.
  std::erase_if(entries_, [&](const ScanEntry& e) {
    for (auto pos = e.path.find('/'); pos != std::string::npos; pos = e.path.find('/', pos + 1))
      if (r_.Excluded(e.path.substr(0, pos))) return true;
    return false;
  });

  // The index may be wrong about the destination: rebuilt from it before anything is compared.
  if (full_ && r_.reconcile_) GEOREP_RETURN_IF_ERROR(r_.ReconcileWithDestination(entries_));

  for (const auto& e : entries_) present_.insert(e.path);
  for (const auto& scope : scopes_) {
    for (auto it = r_.index_.lower_bound(scope == "." ? "" : scope); it != r_.index_.end(); ++it) {
      if (!Under(it->first, scope)) {
        if (scope != "." && it->first > scope + "/\xff") break;
        continue;
      }
      if (!present_.count(it->first)) gone_[{it->second.dev, it->second.ino}] = it->first;
    }
  }
  return Status::Ok();
}

bool Replicator::PassRun::Covered(const std::string& path) const {
  if (scope_set_.count(".") || scope_set_.count(path)) return true;
  for (auto pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1))
    if (scope_set_.count(path.substr(0, pos))) return true;
  return false;
}

bool Replicator::PassRun::Unknown(const std::string& path) const {
  return std::any_of(unreadable_.begin(), unreadable_.end(),
                     [&](const ScanError& e) { return Under(path, e.path); });
}

void Replicator::PassRun::NoteWrittenAndLinked() {
  for (const ScanEntry& e : entries_)
    if (r_.written_.count(e.path)) written_.insert({e.dev, e.ino});
  for (const auto& p : r_.written_)
    if (auto it = r_.index_.find(p); it != r_.index_.end()) {
      written_.insert({it->second.dev, it->second.ino});
      // Written through a path that may be gone by now: its other links changed with it,
      // wherever they are, and a full pass finds them.
      if (it->second.linked) linked_change_ = true;
    }
  // Hard links: a file the destination already holds for an inode is what its new or changed
  // links link to.
  r_.sender_->ForgetLinks();
  for (const ScanEntry& e : entries_) {
    if (e.type != EntryType::kRegular || e.nlink < 2 || written_.count({e.dev, e.ino})) continue;
    auto it = r_.index_.find(e.path);
    if (it != r_.index_.end() && SameContent(it->second, e))
      r_.sender_->RememberLink(e.dev, e.ino, e.path);
  }
}

void Replicator::PassRun::Put(const std::string& path, const IndexEntry& entry,
                              bool final_meta_pending) {
  next_.Set(path, entry);
  IndexEntry recorded = entry;
  if (final_meta_pending) recorded.mtime_ns = -1;
  deltas_.push_back({path, std::move(recorded)});
}

void Replicator::PassRun::Erase(const std::string& path) {
  next_.Erase(path);
  deltas_.push_back({path, std::nullopt});
}

void Replicator::PassRun::Touch(const std::string& path) {
  std::string dir = ParentOf(path);
  if (provisional_.insert(dir).second) {
    if (const auto known = next_.Find(dir)) {
      IndexEntry pending = *known;
      pending.mtime_ns = -1;
      deltas_.push_back({dir, std::move(pending)});
      next_.Set(dir, *known);  // as it is now, also once that delta reaches index_
    }
  }
  touched_.insert(std::move(dir));
}

void Replicator::PassRun::DirectoryMetaLater(const ScanEntry& e, const IndexEntry& now) {
  dirs_meta_.push_back(&e);
  Put(e.path, now, true);
  provisional_.insert(e.path);
}

Status Replicator::PassRun::Visit(const ScanEntry& e) {
  seen_.insert(e.path);
  const IndexEntry now = FromScan(e);
  const std::optional<IndexEntry> known = next_.Find(e.path);
  if (spdlog::should_log(spdlog::level::trace)) {
    const std::string* link = r_.sender_->LinkFor(e.dev, e.ino);
    spdlog::trace("msg=visit path={} ino={} nlink={} size={} known={} known_ino={} link_to={}",
                  LogValue(e.path), e.ino, e.nlink, e.size, known.has_value(),
                  known ? known->ino : 0, link ? LogValue(*link) : "-");
  }
  if (e.path == ".") {
    if (!known || !(*known == now)) DirectoryMetaLater(e, now);
    return Status::Ok();
  }
  // A new link of a file this pass moved with its directory, and that the source still has as
  // the index does: a link to it there.
  if (!known && e.type == EntryType::kRegular && e.nlink > 1 && !moved_files_.empty() &&
      !written_.count({e.dev, e.ino}) && !r_.sender_->KnowsLink(e.dev, e.ino)) {
    auto m = moved_files_.find({e.dev, e.ino});
    const std::optional<IndexEntry> there =
        m == moved_files_.end() ? std::nullopt : next_.Find(m->second);
    if (there && there->ino == e.ino && there->size == e.size && there->mtime_ns == e.mtime_ns)
      r_.sender_->RememberLink(e.dev, e.ino, m->second);
  }
  if (!known) {
    auto g = gone_.find({e.dev, e.ino});
    if (g != gone_.end()) {
      const std::optional<IndexEntry> was = next_.Find(g->second);
      if (was && was->type == e.type && !written_.count({e.dev, e.ino}) &&
          // An inode number the file system reused for a new symlink is not a move.
          (e.type != EntryType::kSymlink || was->target == e.symlink_target) &&
          // A link of an inode already sent under another path links to that one instead.
          !(e.type == EntryType::kRegular && e.nlink > 1 && r_.sender_->KnowsLink(e.dev, e.ino)) &&
          (e.type != EntryType::kRegular || (was->size == e.size && was->mtime_ns == e.mtime_ns))) {
        const std::string from = g->second;
        gone_.erase(g);
        return SendMoved(e, from, now);
      }
    }
  }
  const bool is_new = !known || known->type != e.type;
  const bool content =
      !is_new &&
      ((e.type == EntryType::kRegular && (known->size != e.size || known->mtime_ns != e.mtime_ns ||
                                          known->ino != e.ino || written_.count({e.dev, e.ino}))) ||
       (e.type == EntryType::kSymlink && known->target != e.symlink_target) ||
       (e.type == EntryType::kOther && known->ino != e.ino));  // a new FIFO or device
  // A full pass after a multi-link file changed: every path of that inode is joined again to
  // one (the destination may hold separate copies, e.g. after a directory moved).
  if (full_ && !is_new && !content && e.type == EntryType::kRegular && e.nlink > 1 &&
      r_.relink_.count({e.dev, e.ino})) {
    const std::string* canonical = r_.sender_->LinkFor(e.dev, e.ino);
    if (canonical == nullptr) {
      r_.sender_->RememberLink(e.dev, e.ino, e.path);
    } else if (*canonical != e.path) {
      spdlog::trace("msg=relink path={} to={}", LogValue(e.path), LogValue(*canonical));
      GEOREP_RETURN_IF_ERROR(r_.sender_->SendHardlink(*canonical, e.path));
      Touch(e.path);
      GEOREP_RETURN_IF_ERROR(Mark(e.path));
      ++entry_ops_;
    }
  }
  if (is_new || content) return SendNewOrChanged(e, known, now);
  // Unchanged, and where the destination has it (moved there with its directory earlier in
  // this pass, say): what its new links link to.
  if (e.type == EntryType::kRegular && e.nlink > 1 && !written_.count({e.dev, e.ino}) &&
      r_.sender_->LinkFor(e.dev, e.ino) == nullptr)
    r_.sender_->RememberLink(e.dev, e.ino, e.path);
  if (*known == now) return Status::Ok();
  return SendMetaChange(e, now);
}

// Only metadata changed: a directory's goes out at the end of the pass, anything else's now.
Status Replicator::PassRun::SendMetaChange(const ScanEntry& e, const IndexEntry& now) {
  if (e.type == EntryType::kDirectory) {
    DirectoryMetaLater(e, now);
    return Status::Ok();
  }
  if (e.type == EntryType::kRegular && e.nlink > 1) {
    // Its other links share the change, and a change event names one path only: a full pass
    // looks at each of them (and joins them again where the destination holds them apart --
    // a SetMeta through this path then reached this path's copy only; seed 50569).
    linked_change_ = true;
    relink_next_.insert({e.dev, e.ino});
  }
  GEOREP_RETURN_IF_ERROR(r_.sender_->SendMeta(e));
  Put(e.path, now, false);
  ++meta_ops_;
  return Mark(e.path);
}

// Moved: renamed at the destination, and its index entries (a directory's whole subtree)
// move with it.
Status Replicator::PassRun::SendMoved(const ScanEntry& e, const std::string& from,
                                      const IndexEntry& now) {
  spdlog::trace("msg=moved from={} path={}", LogValue(from), LogValue(e.path));
  GEOREP_RETURN_IF_ERROR(r_.sender_->SendRename(from, e.path));
  Touch(from);
  Touch(e.path);
  GEOREP_RETURN_IF_ERROR(Mark(e.path));
  ++entry_ops_;
  // The moved file is what its other (new) links link to. Links of it the destination holds
  // as copies (one sent while the file had one link, say, with this move's source unwatched
  // then) are rejoined by the next full pass.
  if (e.type == EntryType::kRegular && e.nlink > 1) {
    r_.sender_->RememberLink(e.dev, e.ino, e.path);
    linked_change_ = true;
    relink_next_.insert({e.dev, e.ino});
  }
  // The entry and what is beneath it (`from/...`; not a sibling such as `from-2` or
  // `from.zip`, which a plain string order puts in between).
  std::vector<std::pair<std::string, IndexEntry>> moved = next_.Subtree(from);
  for (auto& [p, ie] : moved) {
    deltas_.push_back({p, std::nullopt});
    next_.Erase(p);
    moved_in_.erase(p);  // moved here earlier in this batch: it goes on
    std::string to = e.path + p.substr(from.size());
    if (provisional_.count(p)) provisional_.insert(to);
    p = std::move(to);
  }
  for (auto& [p, ie] : moved) {
    Put(p, ie, provisional_.count(p) != 0);
    moved_in_[p] = ie;  // there once the Rename is applied, whatever happens to it next
  }
  for (const auto& [p, ie] : moved) {
    if (p == e.path) continue;
    // What moved with it is no longer gone from where the index had it: the scan sees it at
    // its new path, or it is gone from there (a rename's source at that path now).
    auto g = gone_.find({ie.dev, ie.ino});
    if (g != gone_.end() && g->second == from + p.substr(e.path.size())) {
      if (present_.count(p)) {
        gone_.erase(g);
      } else {
        g->second = p;
      }
    }
    // A file there now: what new links of it (which this pass may look at before it) link to.
    if (ie.type == EntryType::kRegular && present_.count(p)) moved_files_[{ie.dev, ie.ino}] = p;
  }
  if (next_.Find(e.path) == now) return Status::Ok();
  return SendMetaChange(e, now);
}

Status Replicator::PassRun::SendNewOrChanged(const ScanEntry& e,
                                             const std::optional<IndexEntry>& known,
                                             const IndexEntry& now) {
  const bool is_new = !known || known->type != e.type;
  spdlog::trace("msg=send path={} new={} links_to={}", LogValue(e.path), is_new,
                e.nlink > 1 && r_.sender_->KnowsLink(e.dev, e.ino));
  if (e.type == EntryType::kRegular && e.nlink > 1) {
    linked_change_ = true;
    relink_next_.insert({e.dev, e.ino});
  }
  // A large file the destination holds an older version of: its signature (kept when that
  // version was sent) lets only the changed blocks travel.
  // (A racy version is what the destination holds: its signature, of the bytes sent, stands.)
  BlockSignature basis, fresh;
  std::unique_lock<std::mutex> signatures_lock(r_.signatures_mutex_);
  const bool have_basis =
      r_.block_delta_ && !is_new && e.type == EntryType::kRegular && e.size >= kDeltaMinFileSize &&
      r_.signatures_->Find(
          e.path, known->size,
          known->mtime_ns == kRacyMtime ? SignatureStore::kAnyMtime : known->mtime_ns, &basis);
  signatures_lock.unlock();
  // Read in the tick of its last change: recorded as racy, and looked at again next pass.
  IndexEntry recorded = now;
  if (Racy(e)) {
    recorded.mtime_ns = kRacyMtime;
    r_.LookAgainNextPass(e.path);
  }
  // Contents that cannot race with stream 0 (a single link, new or a content change of a
  // regular file, in a directory the destination has acknowledged) may go on another. A file
  // in a directory stream 0 has just created or moved into place waits for it.
  const bool acknowledged = ParentAcknowledged(e.path);
  if (!r_.streams_.empty() && e.type == EntryType::kRegular && e.nlink == 1 &&
      (!known || known->type == EntryType::kRegular) &&
      (acknowledged || SameDirectory(next_.Find(ParentOf(e.path)), ParentOf(e.path)))) {
    FileJob job;
    job.entry = e;
    job.recorded = recorded;
    if (have_basis) job.basis = std::move(basis);
    job.bytes = e.size;
    next_.Set(e.path, now);  // its delta travels with the other stream's batch
    Touch(e.path);
    ++data_ops_;
    if (acknowledged) return Dispatch(job);
    ++waiting_files_;
    waiting_bytes_ += job.bytes;
    waiting_.push_back(std::move(job));
    if (ops_since_commit_ > 0 &&
        (waiting_files_ >= kStreamQueueFiles || waiting_bytes_ >= kBatchBytes))
      return Commit(false);
    return Status::Ok();
  }
  const uint64_t file_bytes_before = report_.file_bytes;
  GEOREP_RETURN_IF_ERROR(
      r_.sender_->SendEntry(e, &report_, have_basis ? &basis : nullptr,
                            r_.block_delta_ && e.type == EntryType::kRegular ? &fresh : nullptr));
  if (report_.file_bytes > file_bytes_before)
    data_bytes_[e.path] += report_.file_bytes - file_bytes_before;
  signatures_lock.lock();
  if (fresh.block_size != 0) {
    (void)r_.signatures_->Save(e.path, fresh);  // lost: the next change goes whole
  } else if (have_basis) {
    r_.signatures_->Forget(e.path);
  }
  signatures_lock.unlock();
  Touch(e.path);
  if (e.type == EntryType::kDirectory) {
    DirectoryMetaLater(e, now);
    ++entry_ops_;
  } else {
    Put(e.path, now, false);
    if (recorded.mtime_ns == kRacyMtime) deltas_.back().entry = recorded;
    ++(e.type == EntryType::kRegular ? data_ops_ : entry_ops_);
  }
  return Mark(e.path);
}

// Deletes, deepest first: what the index has in a scope that the scan did not see (and that
// was not unreadable).
Status Replicator::PassRun::SendDeletes() {
  std::vector<std::string> doomed;
  for (const auto& scope : scopes_)
    next_.ForEachIn(scope, [&](const std::string& p, const IndexEntry&) {
      if (p != "." && !seen_.count(p) && !Unknown(p)) doomed.push_back(p);
    });
  std::sort(doomed.rbegin(), doomed.rend());
  for (const auto& p : doomed) {
    const std::optional<IndexEntry> known = next_.Find(p);
    const bool dir = known && known->type == EntryType::kDirectory;
    spdlog::trace("msg=delete path={}", LogValue(p));
    GEOREP_RETURN_IF_ERROR(dir ? r_.sender_->SendRmdir(p) : r_.sender_->SendUnlink(p));
    Touch(p);
    Erase(p);
    GEOREP_RETURN_IF_ERROR(Mark(p));
    ++entry_ops_;
  }
  return Status::Ok();
}

// The files still waiting: once everything stream 0 sent is acknowledged, their directories
// are there (or were refused: then so are they, and they are sent again next pass).
Status Replicator::PassRun::SendWaiting() {
  if (waiting_.empty()) return Status::Ok();
  if (ops_since_commit_ > 0) GEOREP_RETURN_IF_ERROR(Commit(false));
  GEOREP_RETURN_IF_ERROR(Collect(0, true));
  GEOREP_RETURN_IF_ERROR(Release());
  for (const FileJob& job : waiting_)
    orphaned_.emplace_back(job.entry.path, "its directory was not created at the destination");
  waiting_.clear();
  return Status::Ok();
}

// The directories' metadata, last: those that changed, and those whose entries changed.
Status Replicator::PassRun::SendDirectoryMeta() {
  std::set<std::string> queued;
  for (const ScanEntry* d : dirs_meta_) queued.insert(d->path);
  for (const ScanEntry& e : entries_)
    if (e.type == EntryType::kDirectory && touched_.count(e.path) && !queued.count(e.path))
      dirs_meta_.push_back(&e);
  for (const ScanEntry* d : dirs_meta_) {
    GEOREP_RETURN_IF_ERROR(r_.sender_->SendDirectoryMeta(*d));
    Put(d->path, FromScan(*d), false);
    GEOREP_RETURN_IF_ERROR(Mark(d->path));
  }
  return Status::Ok();
}

// The pass is acknowledged: counters, status, and whether everything was applied.
Status Replicator::PassRun::Finish() {
  WorkerStatus& status = r_.status_;
  // The changed file's links outside this pass's directories, or moved with a directory: a
  // full pass rejoins them.
  if (full_) r_.relink_.clear();
  r_.relink_.insert(relink_next_.begin(), relink_next_.end());
  if (linked_change_) r_.want_full_ = true;
  status.failures = refused_all_.size();
  // What this pass looked at and did not find unreplicable any more leaves the list.
  std::set<std::string> skipped_now;
  for (const ScanError& n : report_.not_replicated) skipped_now.insert(n.path);
  std::erase_if(r_.not_replicated_, [&](const auto& n) {
    return !skipped_now.count(n.first) && (Covered(n.first) || seen_.count(n.first));
  });
  for (const ScanError& n : report_.not_replicated) r_.not_replicated_[n.path] = n.status.message();
  for (auto& stream : r_.streams_) {
    const SendReport sent = stream->TakeCounters();
    report_.files += sent.files;
    report_.file_bytes += sent.file_bytes;
    report_.delta_files += sent.delta_files;
    report_.delta_copied_bytes += sent.delta_copied_bytes;
  }
  status.bytes_sent += report_.file_bytes;
  status.files_sent += report_.files;
  const uint64_t wire_now = r_.WireBytes();
  status.wire_bytes = wire_now;
  status.delta_files += report_.delta_files;
  status.delta_copied_bytes += report_.delta_copied_bytes;
  status.pending_entry = status.pending_data = status.pending_meta = 0;
  if (refused_all_.empty()) {
    status.last_synced_ms = std::max(status.last_synced_ms, started_);
    status.reason.clear();
  }
  r_.WriteStatus();
  return refused_all_.empty()
             ? Status::Ok()
             : Status::IOError(std::to_string(refused_all_.size()) +
                               " changes could not be applied; first: " + status.reason);
}

// An operation sent (its last seq is `path`'s, unless it sent nothing: NoteOperation); a commit
// once the batch is full.
Status Replicator::PassRun::Mark(const std::string& path) {
  NoteOperation(&op_path_, &marked_seq_, r_.sender_->last_seq(), path);
  if (r_.sink_->bytes - committed_bytes_ >= kBatchBytes || ++ops_since_commit_ >= kBatchOps)
    return Commit(false);
  return Status::Ok();
}

Status Replicator::PassRun::Commit(bool final) {
  GEOREP_RETURN_IF_ERROR(r_.sender_->SendBarrier(r_.options_.durable_batches));
  Batch b;
  b.barrier = r_.sender_->last_seq();
  marked_seq_ = b.barrier;
  b.deltas = std::move(deltas_);
  deltas_.clear();
  b.op_path = std::move(op_path_);
  op_path_.clear();
  b.moved_in = std::move(moved_in_);
  moved_in_.clear();
  b.data_bytes = std::move(data_bytes_);
  data_bytes_.clear();
  auto moved_on = [&](const std::vector<IndexDelta>& sent, const std::string& path) {
    return r_.SourceMovedOn(sent, path);
  };
  for (const auto& e : r_.sender_->TakeMetaErrors()) NoteMetaUnsent(e, &b);
  for (; skipped_done_ < report_.skipped.size(); ++skipped_done_)
    NoteUnsent(report_.skipped[skipped_done_], &b, moved_on);
  // Not replicated on purpose (a socket): not in the index, not a failure (Finish counts it).
  for (; not_replicated_done_ < report_.not_replicated.size(); ++not_replicated_done_)
    b.resend.insert(report_.not_replicated[not_replicated_done_].path);
  if (final) {
    for (const auto& e : unreadable_) {
      // A directory gone between its parent's listing and its own (renamed or deleted by a
      // live writer) is a change, not a failure: the next pass looks at it again.
      if (e.status.code() == StatusCode::kNotFound && e.path != ".") {
        r_.LookAgainNextPass(e.path);
        continue;
      }
      b.refused.emplace_back(e.path, e.status.message());
    }
    b.refused.insert(b.refused.end(), orphaned_.begin(), orphaned_.end());
  }
  in_flight_.push_back(std::move(b));
  committed_bytes_ = r_.sink_->bytes;
  ops_since_commit_ = 0;
  waiting_files_ = 0;
  waiting_bytes_ = 0;
  return Collect(final ? 0 : kBatchesInFlight, true);
}

// Settles every acknowledged batch; with `wait`, waits until at most `keep` are in flight.
Status Replicator::PassRun::Collect(size_t keep, bool wait) {
  const int64_t until = r_.clock_->MonotonicMillis() + r_.options_.agent_timeout_ms;
  for (;;) {
    // A failed read may have lost events: the next pass is a full one (the loop between
    // passes reports the failure if it lasts).
    if (!r_.DrainChanges().ok()) r_.changes_.overflow = true;
    r_.StatusHeartbeat();  // what is applied, and the lag, move on during a long pass too
    GEOREP_RETURN_IF_ERROR(r_.ReadReplies(0));
    while (!in_flight_.empty() && in_flight_.front().barrier <= r_.acked_seq_) {
      ++settled_batches_;
      GEOREP_RETURN_IF_ERROR(
          Apply(Resolve(in_flight_.front(), &r_.refused_,
                        [&](const std::vector<IndexDelta>& sent, const std::string& path) {
                          return r_.SourceMovedOn(sent, path);
                        })));
      in_flight_.pop_front();
    }
    GEOREP_RETURN_IF_ERROR(TakeStreams());
    if (!wait || in_flight_.size() <= keep) return Status::Ok();
    if (r_.clock_->MonotonicMillis() > until)
      return Status::Unavailable("the agent did not acknowledge within " +
                                 DurationText(r_.options_.agent_timeout_ms));
    GEOREP_RETURN_IF_ERROR(r_.ReadReplies(1000));
  }
}

// A batch acknowledged (on any stream): its deltas go to index_ and the index log -- except
// for what the agent refused or could not be sent, which stays as the index had it and is
// marked to be sent again (never counted as synced).
Status Replicator::PassRun::Apply(SettledBatch b) {
  const std::vector<IndexDelta> applied = SettledDeltas(b, r_.index_);
  for (const auto& d : applied) ApplyDelta(d, &r_.index_);
  r_.status_.bytes_applied =
      std::max<int64_t>(0, r_.status_.bytes_applied) + static_cast<int64_t>(b.applied_bytes);
  if (b.not_found) r_.reconcile_ = true;
  refused_all_.insert(refused_all_.end(), b.refused.begin(), b.refused.end());
  // The first refusal is the cause (a file that did not fit); later ones often follow it.
  if (!refused_all_.empty()) {
    r_.status_.reason = refused_all_.front().first;
    r_.status_.reason += ": ";
    r_.status_.reason += refused_all_.front().second;
  }
  return r_.index_store_->Append(applied, r_.index_);
}

// The extra streams' acknowledged batches: settled here, on the thread that owns index_.
Status Replicator::PassRun::TakeStreams() {
  for (auto& stream : r_.streams_) {
    std::vector<SettledBatch> done;
    Status failed = stream->Take(&done);
    for (auto& b : done) GEOREP_RETURN_IF_ERROR(Apply(std::move(b)));
    GEOREP_RETURN_IF_ERROR(failed);
  }
  return Status::Ok();
}

// A file for an extra stream goes to the one with the fewest bytes queued. Stream 0 takes none
// of them: it carries everything else in order, and this thread keeps scanning and feeding the
// others instead of blocking on one pipe with a large file.
Status Replicator::PassRun::Dispatch(FileJob& job) {
  const int64_t until = r_.clock_->MonotonicMillis() + r_.options_.agent_timeout_ms;
  for (;;) {
    ContentStream* best = nullptr;
    uint64_t least = UINT64_MAX;
    for (auto& stream : r_.streams_)
      if (const uint64_t q = stream->queued_bytes(); q < least) {
        least = q;
        best = stream.get();
      }
    // Files go to the extra streams only when there are some.
    if (best == nullptr) return Status::Internal("no transfer stream for " + job.entry.path);
    bool queued = false;
    GEOREP_RETURN_IF_ERROR(best->Push(job, 100, &queued));
    if (queued) return Status::Ok();
    GEOREP_RETURN_IF_ERROR(Collect(kBatchesInFlight, false));
    if (r_.clock_->MonotonicMillis() > until)
      return Status::Unavailable("the transfer streams took no file for " +
                                 DurationText(r_.options_.agent_timeout_ms));
  }
}

// The waiting files whose directory is acknowledged now go to the extra streams -- so that a
// new tree's files travel in parallel too. Stream 0 commits every kStreamQueueFiles of them
// (or kBatchBytes) to let them go.
Status Replicator::PassRun::Release() {
  released_at_ = settled_batches_;
  std::vector<FileJob> still;
  still.reserve(waiting_.size());
  for (auto& job : waiting_) {
    if (ParentAcknowledged(job.entry.path)) {
      GEOREP_RETURN_IF_ERROR(Dispatch(job));
    } else {
      still.push_back(std::move(job));
    }
  }
  waiting_ = std::move(still);
  return Status::Ok();
}

// Before directory metadata goes out: every extra stream's files are applied (one landing later
// would move its directory's mtime).
Status Replicator::PassRun::FinishStreams() {
  for (auto& stream : r_.streams_) stream->EndPass();
  const int64_t until = r_.clock_->MonotonicMillis() + r_.options_.agent_timeout_ms;
  for (auto& stream : r_.streams_)
    while (!stream->WaitPassDone(100)) {
      GEOREP_RETURN_IF_ERROR(Collect(kBatchesInFlight, false));
      if (r_.clock_->MonotonicMillis() > until)
        return Status::Unavailable("a transfer stream did not finish within " +
                                   DurationText(r_.options_.agent_timeout_ms));
    }
  return TakeStreams();
}

// Whether `known` (what an index has for directory `dir`) is the directory scanned now: when
// the destination has acknowledged it, stream 0 neither creates, moves nor removes it during
// this pass (a present path is never a rename source), and a file in it may travel on another
// stream.
bool Replicator::PassRun::SameDirectory(const std::optional<IndexEntry>& known,
                                        const std::string& dir) const {
  auto scanned = scanned_dirs_.find(dir);
  return scanned != scanned_dirs_.end() && known && known->type == EntryType::kDirectory &&
         known->dev == scanned->second->dev && known->ino == scanned->second->ino;
}

// The root is always there (the agent opened it), and nothing moves or removes it.
bool Replicator::PassRun::ParentAcknowledged(const std::string& path) const {
  if (path.find('/') == std::string::npos) return true;
  const std::string dir = ParentOf(path);
  auto acknowledged = r_.index_.find(dir);
  return acknowledged != r_.index_.end() && SameDirectory(acknowledged->second, dir);
}

}  // namespace georep::replication
