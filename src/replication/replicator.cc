#include "replication/replicator.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iterator>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "base/log.h"
#include "replication/change_journal.h"
#include "replication/privileges.h"
#include "replication/repair_request.h"
#include "replication/replicator_batch.h"
#include "replication/replicator_streams.h"
#include "replication/wire.h"

namespace georep::replication {
namespace {

// One pass's summary (debug): what it sent and how long it took.
// `subtrees` and `entries`: what an incremental pass looked at (a full pass: the root).
void LogPass(bool full, size_t subtrees, size_t entries, const WorkerStatus& before,
             const WorkerStatus& after, int64_t took_ms, const Status& result) {
  spdlog::debug(
      "msg=pass full={} subtrees={} entries={} scanned={} files={} bytes={} wire_bytes={} "
      "failures={} took_ms={} result={}",
      full, subtrees, entries, after.pass_scanned, after.files_sent - before.files_sent,
      after.bytes_sent - before.bytes_sent, after.wire_bytes - before.wire_bytes, after.failures,
      took_ms, result.ok() ? std::string("ok") : LogValue(result.message()));
}

// The marker of a running worker (`unclean` in the state directory): made at the start, removed
// at a clean stop. Found at the start, it says the last run was killed or failed with
// operations in flight: the index may be wrong about the destination.
std::string UncleanMarker(const std::string& state_dir) {
  return state_dir + "/unclean";
}

// Whether the last run left the marker; then makes it.
bool MarkRunning(Env* env, const std::string& state_dir) {
  const std::string marker = UncleanMarker(state_dir);
  const bool unclean = env->Exists(marker);
  if (auto made = env->OpenWritable(marker, Env::OpenMode::kAppend); made.ok())
    (void)(*made)->Close();
  if (unclean)
    spdlog::info(
        "msg=\"the last run did not stop cleanly: the index is reconciled with the destination\"");
  return unclean;
}

void MarkStopped(Env* env, const std::string& state_dir) {
  (void)env->Remove(UncleanMarker(state_dir));
}

}  // namespace

Result<std::unique_ptr<AgentLink>> SpawningAgentLinks::Open(int stream) {
  return SpawnAgent(argv_,
                    state_dir_ + (stream == 0 ? std::string("/agent.log")
                                              : "/agent-" + std::to_string(stream) + ".log"));
}

Replicator::Replicator(ReplicatorOptions options)
    : options_(std::move(options)),
      system_clock_(options_.clock ? nullptr : std::make_unique<SystemClock>()),
      clock_(options_.clock ? options_.clock : system_clock_.get()),
      env_(options_.env ? options_.env : Env::Default()),
      spawning_links_(options_.agent_links ? nullptr
                                           : std::make_unique<SpawningAgentLinks>(
                                                 options_.agent_argv, options_.state_dir)),
      agent_links_(options_.agent_links ? options_.agent_links : spawning_links_.get()) {}
// The streams' threads use the rest: they stop first.
Replicator::~Replicator() {
  streams_.clear();
}

bool Replicator::Excluded(const std::string& path) const {
  if (path == ".") return false;
  const auto slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  for (const auto& pattern : options_.excludes) {
    if (::fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return true;
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

uint64_t Replicator::WireBytes() const {
  uint64_t total = sink_ ? sink_->bytes.load() : 0;
  for (const auto& stream : streams_) total += stream->wire_bytes();
  return total;
}

int64_t Replicator::SettleMs() const {
  return changes_.unclosed.empty() ? options_.closed_settle_ms : options_.settle_ms;
}

// What the destination had applied by the last run's end is still applied: a restarted worker
// (or one that is Faulty from the start) shows that mark, not "never", until its first pass
// moves it on (as gsyncd keeps its stime). So does the count of bytes applied (the engine's
// throughput is its growth), and a change the last run left pending: the oldest change not yet
// applied is still that one, whatever changed while no worker watched.
void Replicator::CarryOverLastSynced() {
  auto previous = ReadWorkerStatus(options_.state_dir, env_);
  if (!previous.ok()) return;
  status_.last_synced_ms = std::max(status_.last_synced_ms, previous->last_synced_ms);
  status_.repaired = previous->repaired;
  status_.bytes_applied = std::max(status_.bytes_applied, previous->bytes_applied);
  if (previous->lag_ms >= 0 && previous->oldest_pending_ms != 0 && carried_oldest_ms_ == 0) {
    carried_oldest_ms_ = previous->oldest_pending_ms;
    lag_known_ = true;
  }
}

void Replicator::StatusHeartbeat() {
  if (clock_->NowMillis() - status_.updated_ms >= kStatusEveryMs) WriteStatus();
}

void Replicator::FullPassApplied() {
  lag_known_ = true;
  carried_oldest_ms_ = 0;
}

void Replicator::NoteInStep(int64_t as_of) {
  if (!lag_known_ || !changes_.empty() || changes_.overflow || first_change_ms_ != 0 ||
      !written_.empty() || status_.state != "Active" || status_.failures != 0 ||
      (watcher_ && !watcher_->unwatched().empty()))
    return;
  status_.last_synced_ms = std::max(status_.last_synced_ms, as_of);
}

Result<bool> Replicator::TakeRepairRequest() {
  auto request = ReadRepairRequest(options_.state_dir);
  if (request.status().code() == StatusCode::kNotFound) return false;
  if (!request.ok()) {
    spdlog::error("msg=\"repair request refused\" error={}", LogValue(request.status().message()));
    GEOREP_RETURN_IF_ERROR(RemoveRepairRequest(options_.state_dir));
    return false;
  }
  const std::vector<IndexDelta> deltas = ApplyRepairRequest(*request, &index_);
  GEOREP_RETURN_IF_ERROR(index_store_->Append(deltas, index_));
  GEOREP_RETURN_IF_ERROR(RemoveRepairRequest(options_.state_dir));
  spdlog::info("msg=\"repair request taken in\" id={} stale={} missing={} extra={}",
               LogValue(request->id), request->stale.size(), request->missing.size(),
               request->extra.size());
  repairing_ = request->id;
  return true;
}

void Replicator::WriteStatus() {
  status_.updated_ms = clock_->NowMillis();
  if (status_.bytes_applied < 0) status_.bytes_applied = 0;
  // Lag (see WorkerStatus): the oldest of what waits for a pass, what a pass carries and what
  // the last run left pending; unknown until a full pass is applied, unless that last is known.
  int64_t oldest = 0;
  for (int64_t t : {first_change_ms_, pass_oldest_ms_, carried_oldest_ms_})
    if (t != 0 && (oldest == 0 || t < oldest)) oldest = t;
  status_.oldest_pending_ms = lag_known_ ? oldest : 0;
  status_.lag_ms = !lag_known_   ? -1
                   : oldest != 0 ? std::max<int64_t>(0, status_.updated_ms - oldest)
                                 : 0;
  if (sink_) status_.wire_bytes = WireBytes();
  status_.skipped_special = not_replicated_.size();
  status_.skipped_xattrs = sender_ ? sender_->PrivilegedXattrsDropped().size() : 0;
  status_.skipped_reason.clear();
  if (!not_replicated_.empty()) {
    status_.skipped_reason = not_replicated_.begin()->second;
  } else if (status_.skipped_xattrs > 0) {
    const auto& [path, why] = *sender_->PrivilegedXattrsDropped().begin();
    status_.skipped_reason = fmt::format("'{}': {}", path, why);
  }
  const std::string json = StatusToJson(status_);
  (void)ReplaceFile(env_, options_.state_dir + "/status.json", json, /*sync=*/false);
  if (options_.on_status) options_.on_status(status_);
  if (options_.status_fd < 0) return;
  // The whole line, however many writes that takes: the reader splits lines.
  std::string_view rest = json;
  while (!rest.empty()) {
    ssize_t n = ::write(options_.status_fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::warn("msg=\"the status reader is gone: stopping\" error={}",
                   LogValue(strerror(errno)));
      options_.status_fd = -1;
      RequestStop();
      return;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

Status Replicator::Handshake(AgentLink* link, FdSink* sink, std::string* buffer, TreeSender* sender,
                             bool* source_copy, bool* block_delta, uint32_t* version) const {
  // ACLs only when they are synced; trusted.* and security.capability only when this worker
  // can read them (root). Devices and privileged xattrs are what the agent offers as root.
  uint64_t offer = kCapabilitiesSupported;
  if (!options_.send_xattrs || !options_.send_acls) offer &= ~kCapAcls;
  if (!options_.send_xattrs || !HostRoot()) offer &= ~kCapPrivilegedXattrs;
  if (options_.send_xattrs && ::geteuid() == 0 && !HostRoot())
    spdlog::warn(
        "msg=\"the worker is root in a user namespace, not on the host: trusted.* and "
        "security.capability xattrs are neither read nor replicated\"");
  GEOREP_RETURN_IF_ERROR(sender->SendHello(offer, "georep worker"));
  GEOREP_RETURN_IF_ERROR(sender->Flush());
  Decoder decoder;
  std::vector<Message> in;
  const int64_t until = clock_->MonotonicMillis() + options_.handshake_timeout_ms;
  while (in.empty()) {
    if (clock_->MonotonicMillis() > until)
      return Status::Unavailable("the agent did not answer within " +
                                 DurationText(options_.handshake_timeout_ms) + ": " +
                                 link->ErrorTail());
    Status d = sink->Drain(500);
    if (!d.ok()) return Status::Unavailable(d.message() + ": " + link->ErrorTail());
    GEOREP_RETURN_IF_ERROR(decoder.Feed(*buffer, &in));
    buffer->clear();
  }
  if (const auto* reply = std::get_if<HelloReply>(&in[0]); reply && reply->accepted) {
    // A destination on this host copies large files from the source itself, whole: as with
    // rsync's local copies, a delta would cost more reading and hashing than it saves. A
    // bandwidth limit or compression shapes the stream: then everything goes through it.
    *source_copy = (reply->capabilities & kCapSourceCopy) != 0 && options_.bandwidth_limit == 0 &&
                   !options_.compress;
    *block_delta = (reply->capabilities & kCapBlockDelta) != 0 && !*source_copy;
    if (version != nullptr) *version = reply->version;
    sender->SetPeerCapabilities(reply->capabilities);
    if ((offer & kCapPrivilegedXattrs) != 0 && (reply->capabilities & kCapPrivilegedXattrs) == 0)
      spdlog::warn(
          "msg=\"the agent is not root: trusted.* and security.capability xattrs and device "
          "nodes are not replicated\"");
    return Status::Ok();
  } else if (reply) {
    return Status::FailedPrecondition("the agent refused the connection: " + reply->reason);
  }
  if (const auto* e = std::get_if<Error>(&in[0]))
    return Status::Unavailable("the agent failed: " + e->message);
  return Status::Corruption("the agent answered the handshake with " +
                            std::string(MessageTypeName(TypeOf(in[0]))));
}

Status Replicator::Connect() {
  rate_ = std::make_unique<RateLimit>(options_.bandwidth_limit, clock_);
  GEOREP_ASSIGN_OR_RETURN(link_, agent_links_->Open(0));
  read_buffer_.clear();
  sink_ = std::make_unique<FdSink>(link_->write_fd(), link_->read_fd(), &read_buffer_, rate_.get());
  SenderOptions so;
  so.compress = options_.compress;
  so.send_xattrs = options_.send_xattrs;
  so.read_privileged_xattrs = options_.send_xattrs && HostRoot();
  GEOREP_ASSIGN_OR_RETURN(sender_, TreeSender::Open(options_.source, sink_.get(), so));
  bool source_copy = false;
  GEOREP_RETURN_IF_ERROR(Handshake(link_.get(), sink_.get(), &read_buffer_, sender_.get(),
                                   &source_copy, &block_delta_, &protocol_version_));
  sender_->EnableSourceCopy(source_copy);
  sender_->EnableBlockDelta(block_delta_);
  signatures_ = std::make_unique<SignatureStore>(options_.state_dir + "/signatures");
  replies_ = std::make_unique<Decoder>();
  acked_seq_ = 0;
  refused_.clear();
  // The extra streams connect after stream 0 has answered: every agent has swept its stale
  // temporary files (at its start) before any stream sends a file.
  streams_.clear();
  for (int i = 1; i < options_.sync_jobs; ++i) {
    streams_.push_back(std::make_unique<ContentStream>(this, i));
    GEOREP_RETURN_IF_ERROR(streams_.back()->Connect());
  }
  return Status::Ok();
}

bool Replicator::SourceMovedOn(const std::vector<IndexDelta>& sent, const std::string& path) const {
  auto it =
      std::find_if(sent.rbegin(), sent.rend(), [&](const IndexDelta& d) { return d.path == path; });
  if (it == sent.rend() || !it->entry) return false;
  struct stat st {};
  if (::lstat((options_.source + "/" + path).c_str(), &st) != 0) return errno == ENOENT;
  const IndexEntry& e = *it->entry;
  return static_cast<uint64_t>(st.st_size) != e.size || st.st_ino != e.ino ||
         (e.mtime_ns != kRacyMtime &&
          st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec != e.mtime_ns) ||
         st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec != e.ctime_ns;
}

Status Replicator::ReconcileWithDestination(const std::vector<ScanEntry>& source) {
  reconcile_ = false;
  if (protocol_version_ < kListTreeVersion) {
    spdlog::warn("msg=\"cannot reconcile the index: the agent speaks protocol version {}\"",
                 protocol_version_);
    return Status::Ok();
  }
  const int64_t started = clock_->NowMillis();
  const uint64_t id = ++list_requests_;
  GEOREP_RETURN_IF_ERROR(sender_->SendListTree(id, "."));
  std::vector<ListedEntry> listing;
  std::string error;
  const int64_t until = clock_->MonotonicMillis() + options_.agent_timeout_ms;
  for (bool last = false; !last;) {
    if (clock_->MonotonicMillis() > until)
      return Status::Unavailable("the agent did not list the destination within " +
                                 DurationText(options_.agent_timeout_ms));
    if (read_buffer_.empty()) {
      Status d = sink_->Drain(1000);
      if (!d.ok()) return Status::Unavailable(d.message() + ": " + link_->ErrorTail());
    }
    std::vector<Message> in;
    GEOREP_RETURN_IF_ERROR(replies_->Feed(read_buffer_, &in));
    read_buffer_.clear();
    for (Message& m : in) {
      if (auto* part = std::get_if<TreeListing>(&m); part != nullptr && part->id == id) {
        std::move(part->entries.begin(), part->entries.end(), std::back_inserter(listing));
        if (part->last) {
          last = true;
          error = std::move(part->error);
        }
      } else if (const auto* e = std::get_if<Error>(&m)) {
        if (e->seq == 0) return Status::Unavailable("the agent failed: " + e->message);
        refused_[e->seq] = {e->message, e->code == ErrorCode::kSourceChanged,
                            e->code == ErrorCode::kNotFound};
      } else if (const auto* a = std::get_if<Ack>(&m)) {
        acked_seq_ = std::max(acked_seq_, a->applied_seq);
      }
    }
  }
  if (!error.empty()) {
    // What it could not read would leave the index as missing: the index stays as it is.
    spdlog::warn(
        "msg=\"cannot reconcile the index: the destination was not listed whole\" error={}",
        LogValue(error));
    return Status::Ok();
  }
  Reconciliation r = ReconcileIndex(index_, ".", &source, listing,
                                    [&](const std::string& path) { return Excluded(path); });
  for (const IndexDelta& d : r.deltas) ApplyDelta(d, &index_);
  GEOREP_RETURN_IF_ERROR(index_store_->Append(r.deltas, index_));
  relink_.insert(r.relink.begin(), r.relink.end());
  spdlog::info(
      "msg=\"index reconciled with the destination\" listed={} kept={} meta={} stale={} "
      "missing={} extra={} relink={} took_ms={}",
      listing.size(), r.counts.kept, r.counts.meta, r.counts.stale, r.counts.missing,
      r.counts.extra, r.counts.relinked, clock_->NowMillis() - started);
  return Status::Ok();
}

Status Replicator::ReadReplies(int wait_ms) {
  if (wait_ms > 0 || read_buffer_.empty()) {
    Status d = sink_->Drain(wait_ms);
    if (!d.ok()) return Status::Unavailable(d.message() + ": " + link_->ErrorTail());
  }
  return ParseReplies(replies_.get(), &read_buffer_, &acked_seq_, &refused_);
}

// One pass: the changed part of the source (or all of it) against the index.
Status Replicator::RunOnce() {
  Status result = [&]() -> Status {
    CarryOverLastSynced();
    index_store_ = std::make_unique<IndexStore>(options_.state_dir, env_);
    GEOREP_ASSIGN_OR_RETURN(index_, index_store_->Load());
    // A first sync (nothing in the index) starts from what the destination holds too: what
    // the source does not have is deleted, what equals the source is not sent again.
    reconcile_ = MarkRunning(env_, options_.state_dir) || index_.empty();
    GEOREP_RETURN_IF_ERROR(TakeRepairRequest().status());
    GEOREP_RETURN_IF_ERROR(Connect());
    spdlog::info("msg=\"connected to the agent\" source={} once=true", LogValue(options_.source));
    status_.state = "Active";
    status_.crawl = "Hybrid Crawl";
    WriteStatus();
    const WorkerStatus before = status_;
    const int64_t started = clock_->NowMillis();
    Status st = Pass({}, true);
    LogPass(true, 1, 0, before, status_, clock_->NowMillis() - started, st);
    if (st.ok()) {
      FullPassApplied();
      WriteStatus();
    }
    if (st.ok() && !repairing_.empty()) {
      status_.repaired = std::exchange(repairing_, std::string());
      WriteStatus();
    }
    Status closed = CloseStreams(30);
    // A pass some of whose changes the agent refused still ends in step with its index (every
    // Ack settled, nothing refused recorded): a clean stop. A lost agent, or a pass that found
    // the index wrong about the destination, leaves the marker: the next run reconciles. So
    // do links sent as separate files and not yet joined (relink_, which lives only in this
    // process): the next run's reconciliation finds them split at the destination.
    if (closed.ok() && !reconcile_ && relink_.empty() &&
        (st.ok() || st.code() == StatusCode::kIOError))
      MarkStopped(env_, options_.state_dir);
    return st.ok() ? closed : st;
  }();
  if (!result.ok()) spdlog::error("msg=\"pass failed\" error={}", LogValue(result.message()));
  return result;
}

Status Replicator::Fail(const Status& why) {
  status_.state = "Faulty";
  status_.reason = why.message();
  WriteStatus();
  spdlog::error("msg=\"worker stops: Faulty\" reason={}", LogValue(why.message()));
  streams_.clear();
  if (link_) (void)link_->Close(5);
  return why;
}

Status Replicator::Start() {
  index_store_ = std::make_unique<IndexStore>(options_.state_dir, env_);
  GEOREP_ASSIGN_OR_RETURN(index_, index_store_->Load());
  // A first sync (nothing in the index) starts from what the destination holds too: what
  // the source does not have is deleted, what equals the source is not sent again.
  reconcile_ = MarkRunning(env_, options_.state_dir) || index_.empty();
  GEOREP_RETURN_IF_ERROR(TakeRepairRequest().status());
  status_.state = "Initializing";
  WriteStatus();
  if (Status c = Connect(); !c.ok()) {
    // The agent (or the ssh in front of it) did not answer: say where the problem is.
    return c.code() == StatusCode::kUnavailable
               ? Status::Unavailable("cannot reach the destination: " + c.message())
               : c;
  }
  spdlog::info("msg=\"connected to the agent\"");

  // Watches first, then the crawl: nothing changed during the crawl is missed.
  GEOREP_ASSIGN_OR_RETURN(
      watcher_, MakeChangeWatcher(options_.source, options_.change_capture, options_.capture,
                                  nullptr, &capture_standing_));
  status_.change_capture = watcher_->kind();
  // What the capture needs against what the kernel allows; where that is not enough, the
  // standing reason is in the status before the crawl starts (and so before any change).
  spdlog::info("msg=\"watching for changes\" change_capture={} {}", watcher_->kind(),
               watcher_->Needs());
  NoteCaptureGaps(true);
  return Status::Ok();
}

Status Replicator::CatchUp(ChangeJournal& journal) {
  // History Crawl: the changes journaled before the last stop, which a crawl alone could miss
  // (a rewrite within one clock tick, same size), go first.
  GEOREP_ASSIGN_OR_RETURN(JournaledChanges replay, journal.Load());
  status_.state = "Active";
  if (!replay.empty() && reconcile_) {
    // The full pass that reconciles covers the journal's changes; its rewrites are sent again.
    written_ = replay.written;
    spdlog::info(
        "msg=\"History Crawl: the journal goes with the full pass that reconciles\" "
        "directories={} entries={} written={}",
        replay.directories.size(), replay.entries.size(), replay.written.size());
  } else if (!replay.empty()) {
    status_.crawl = "History Crawl";
    WriteStatus();
    written_ = replay.written;
    PassScope scope{replay.directories, replay.entries};
    scope.entries.insert(replay.written.begin(), replay.written.end());
    spdlog::info(
        "msg=\"History Crawl: replaying the journal\" directories={} entries={} written={}",
        replay.directories.size(), replay.entries.size(), replay.written.size());
    Status history = Pass(scope, false);
    if (!history.ok() && history.code() != StatusCode::kIOError) return history;
    if (history.ok()) {
      written_.clear();
      GEOREP_RETURN_IF_ERROR(journal.Clear());
    }
  }
  status_.crawl = "Hybrid Crawl";
  WriteStatus();
  const WorkerStatus before = status_;
  const int64_t pass_started = clock_->NowMillis();
  Status first = Pass({}, true);
  LogPass(true, 1, 0, before, status_, clock_->NowMillis() - pass_started, first);
  if (!first.ok() && first.code() != StatusCode::kIOError) return first;
  if (first.ok()) {
    written_.clear();
    GEOREP_RETURN_IF_ERROR(journal.Clear());
    if (!repairing_.empty()) status_.repaired = std::exchange(repairing_, std::string());
    FullPassApplied();
  }
  if (!first.ok()) {
    status_.state = "Faulty";
    status_.reason = first.message();
    spdlog::warn("msg=Faulty reason={}", LogValue(first.message()));
  } else {
    spdlog::info("msg=\"in step: the first full pass is applied\" files={} bytes={}",
                 status_.files_sent, status_.bytes_sent);
  }
  status_.crawl = "Changelog Crawl";
  WriteStatus();
  // Failures are retried by a full pass; so are links the first pass could not join.
  if (!first.ok() || want_full_) changes_.overflow = true;
  return Status::Ok();
}

Result<bool> Replicator::WaitForChanges(int64_t last_full, bool* full) {
  // Sleep until the capture has news or the waiting changes are due (at most 200 ms, so
  // that stop requests, the status heartbeat and the rescan are seen in time).
  int64_t wait_ms = 200;
  if (!changes_.empty()) {
    const int64_t t = clock_->NowMillis();
    wait_ms = std::min(
        {wait_ms, last_change_ms_ + SettleMs() - t, first_change_ms_ + options_.max_delay_ms - t});
    wait_ms = std::max<int64_t>(wait_ms, 1);
  }
  // The agent is watched between passes too: a destination that went away (its ssh
  // connection ended) is Faulty now, not at the next change.
  pollfd fds[2] = {{watcher_->fd(), POLLIN, 0}, {link_->read_fd(), POLLIN, 0}};
  (void)::poll(fds, 2, static_cast<int>(wait_ms));
  if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
    if (Status d = sink_->Drain(); !d.ok())
      return Status::Unavailable("lost the destination: " + d.message() + ": " +
                                 link_->ErrorTail());
  }
  for (auto& stream : streams_)
    if (Status f = stream->Failure(); !f.ok())
      return Status::Unavailable("lost the destination: " + f.message());
  // A change made before this moment is in the capture's queue by now (the kernel queues its
  // event as the change is made): drained, nothing waiting means in step as of then.
  const int64_t drained_at = clock_->NowMillis();
  GEOREP_RETURN_IF_ERROR(DrainChanges());
  GEOREP_RETURN_IF_ERROR(RescanCaptureGaps());
  // A repair asked for meanwhile: a full pass now.
  GEOREP_ASSIGN_OR_RETURN(const bool repair, TakeRepairRequest());
  if (repair) changes_.overflow = true;
  NoteInStep(drained_at);
  const int64_t now = clock_->NowMillis();
  // Alive, the lag so far and the in-step mark: every second.
  StatusHeartbeat();
  const bool rescan = options_.rescan_interval_s > 0 &&
                      now - last_full >= int64_t{options_.rescan_interval_s} * 1000;
  const bool dirty = !changes_.empty();
  const bool settled = dirty && now - last_change_ms_ >= SettleMs();
  const bool overdue = dirty && now - first_change_ms_ >= options_.max_delay_ms;
  *full = changes_.overflow || rescan;
  return settled || overdue || *full;
}

Status Replicator::ChangedPass(ChangeJournal& journal, bool full) {
  const int64_t now = clock_->NowMillis();
  // What the capture saw goes to this pass; what it sees meanwhile (drained at each
  // commit) waits in changes_ for the next one.
  PassScope scope{std::move(changes_.subtrees), std::move(changes_.entries)};
  written_.insert(changes_.written.begin(), changes_.written.end());
  // Files written before a failed pass are looked at again.
  scope.entries.insert(written_.begin(), written_.end());
  changes_ = ChangeSet{};
  const int64_t oldest = first_change_ms_ ? first_change_ms_ : now;  // a rescan or retry
  pass_oldest_ms_ = first_change_ms_;  // in flight until the pass's last Ack: still lag
  first_change_ms_ = 0;
  // A status that says nothing waits is out of date now: a long pass may write none.
  if (status_.oldest_pending_ms == 0 && pass_oldest_ms_ != 0) WriteStatus();
  want_full_ = false;
  // On stable storage before anything is done about it (replayed after a restart).
  const int64_t journal_started = clock_->NowMillis();
  GEOREP_RETURN_IF_ERROR(journal.Append({scope.subtrees, scope.entries, written_}));
  spdlog::debug("msg=journaled took_ms={}", clock_->NowMillis() - journal_started);
  const WorkerStatus before = status_;
  const int64_t pass_started = clock_->NowMillis();
  Status st = Pass(scope, full);
  // Not applied: still pending, from the oldest of them (also for a failure that ends the
  // worker: its last status says so, and the next run counts on from it).
  if (!st.ok() && (first_change_ms_ == 0 || oldest < first_change_ms_)) first_change_ms_ = oldest;
  pass_oldest_ms_ = 0;  // acknowledged, or (failed) pending again as first_change_ms_
  LogPass(full, full ? 1 : scope.subtrees.size(), full ? 0 : scope.entries.size(), before, status_,
          clock_->NowMillis() - pass_started, st);
  if (want_full_) changes_.overflow = true;
  if (st.ok()) {
    written_.clear();
    GEOREP_RETURN_IF_ERROR(journal.Clear());
    if (full && !repairing_.empty()) status_.repaired = std::exchange(repairing_, std::string());
    if (full) FullPassApplied();
  }
  if (!st.ok() && st.code() != StatusCode::kIOError) return st;
  if (st.ok()) {
    if (status_.state != "Active") spdlog::info("msg=\"recovered: Active\"");
    status_.state = "Active";
  } else {
    // Changes the destination refused (full, permissions...): Faulty with the reason, and
    // a full pass again after a pause, until they are applied. They are still unsynced, so
    // the lag counts from the oldest of them (first_change_ms_, above).
    if (status_.state != "Faulty") spdlog::warn("msg=Faulty reason={}", LogValue(st.message()));
    status_.state = "Faulty";
    status_.reason = st.message();
    WriteStatus();
    changes_.overflow = true;
    // A pass that found the index wrong about the destination goes on at once, reconciling.
    for (int i = 0; i < 25 && !stop_.load() && !reconcile_; ++i) {
      clock_->Sleep(200);
      StatusHeartbeat();
    }
  }
  WriteStatus();
  return Status::Ok();
}

Status Replicator::Run() {
  spdlog::info("msg=\"worker starts\" source={}", LogValue(options_.source));
  CarryOverLastSynced();  // before anything writes the status (a failure too)
  if (Status started = Start(); !started.ok()) return Fail(started);
  ChangeJournal journal(options_.state_dir, env_);
  if (Status caught_up = CatchUp(journal); !caught_up.ok()) return Fail(caught_up);
  int64_t last_full = clock_->NowMillis();
  while (!stop_.load()) {
    bool full = false;
    auto due = WaitForChanges(last_full, &full);
    if (!due.ok()) return Fail(due.status());
    if (!*due) continue;
    if (full) last_full = clock_->NowMillis();
    if (Status passed = ChangedPass(journal, full); !passed.ok()) return Fail(passed);
  }
  watcher_.reset();
  Status closed = CloseStreams(30);
  if (closed.ok() && !reconcile_ && relink_.empty()) MarkStopped(env_, options_.state_dir);
  status_.state = "Stopped";
  WriteStatus();
  spdlog::info("msg=\"worker stopped\"");
  return closed;
}

Status Replicator::CloseStreams(int seconds) {
  Status result = Status::Ok();
  for (auto& stream : streams_)
    if (Status c = stream->Close(seconds); !c.ok() && result.ok()) result = c;
  streams_.clear();
  Status closed = link_->Close(seconds);
  return closed.ok() ? result : closed;
}

void Replicator::NoteChanged() {
  if (!changes_.changed) return;
  changes_.changed = false;
  last_change_ms_ = clock_->NowMillis();
  if (first_change_ms_ == 0) first_change_ms_ = last_change_ms_;
}

void Replicator::LookAgainNextPass(const std::string& path) {
  changes_.entries.insert(path);
  last_change_ms_ = clock_->NowMillis();
  if (first_change_ms_ == 0)
    first_change_ms_ = pass_oldest_ms_ != 0 ? pass_oldest_ms_ : clock_->NowMillis();
}

Status Replicator::DrainChanges() {
  if (!watcher_) return Status::Ok();
  Status st = watcher_->Drain(&changes_);
  NoteChanged();
  // A new directory that could not be watched.
  if (watcher_->unwatched().size() != status_.capture_gaps) NoteCaptureGaps(false);
  return st;
}

// ------------------------------------------------------------------ capture gaps

Status Replicator::RescanCaptureGaps() {
  if (!watcher_ || watcher_->unwatched().empty()) return Status::Ok();
  const int64_t started = clock_->NowMillis();
  if (started < next_gap_rescan_ms_) return Status::Ok();
  const size_t directories = watcher_->unwatched().size();
  const size_t entries_before = changes_.entries.size();
  Status st = watcher_->RescanUnwatched(&changes_);
  NoteChanged();
  const int64_t took = clock_->NowMillis() - started;
  // Bounded: the rescans take at most a fifth of the time, and come at least once a minute.
  next_gap_rescan_ms_ =
      clock_->NowMillis() + std::clamp<int64_t>(4 * took, options_.gap_rescan_ms, 60000);
  spdlog::debug(
      "msg=\"rescanned the unwatched directories\" directories={} changes={} unwatched={} "
      "took_ms={}",
      directories, changes_.entries.size() - entries_before, watcher_->unwatched().size(), took);
  NoteCaptureGaps(false);
  return st;
}

void Replicator::NoteCaptureGaps(bool force) {
  const auto& gaps = watcher_->unwatched();
  if (!force && gaps.size() == status_.capture_gaps) return;
  std::string warning = capture_standing_;
  const std::string gap_reason = watcher_->GapReason();
  if (!gap_reason.empty()) warning += (warning.empty() ? "" : "; ") + gap_reason;
  std::map<int, size_t> by_error;
  for (const auto& [dir, err] : gaps) ++by_error[err];
  const int main_error =
      by_error.empty() ? 0
                       : std::max_element(by_error.begin(), by_error.end(), [](auto& a, auto& b) {
                           return a.second < b.second;
                         })->first;
  if (main_error != 0 && main_error != logged_gap_error_) {
    spdlog::warn(
        "msg=\"directories without a watch: their changes are found by a rescan every {} ms "
        "until a watch succeeds\" unwatched={} first={} reason={} {}",
        options_.gap_rescan_ms, gaps.size(), LogValue(gaps.begin()->first),
        LogValue(ExplainWatchError(main_error,
                                   options_.capture.kernel ? options_.capture.kernel->Limits()
                                                           : SystemCaptureKernel().Limits(),
                                   options_.capture.max_watches)),
        watcher_->Needs());
  } else if (main_error == 0 && logged_gap_error_ != 0) {
    spdlog::info("msg=\"every directory is watched again\" {}", watcher_->Needs());
  }
  logged_gap_error_ = main_error;
  if (!force && gaps.size() == status_.capture_gaps && warning == status_.capture_warning) return;
  status_.capture_gaps = gaps.size();
  status_.capture_warning = std::move(warning);
  WriteStatus();
}

}  // namespace georep::replication
