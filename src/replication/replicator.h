// Replicator: the source side of one built-in session (`georep worker`). It keeps a
// destination directory in step with a source tree over one agent connection, or several
// (sync_jobs; see "Parallel transfer streams" below):
//
//  1. Hybrid Crawl: the whole source is scanned and compared with the synced index (what the
//     destination is known to hold, kept in the state directory); only the differences are
//     sent -- new and changed entries, renames (an inode that left one path and appeared at a
//     new one moves at the destination instead of being sent again), deletes, metadata.
//  2. Changelog Crawl: the change capture (change_watcher.h) is set up before the Hybrid
//     Crawl starts, so nothing changed during it is missed: one fanotify filesystem mark when
//     the worker may set one (root, Linux >= 5.9, a source on one file system whose handles
//     fanotify reports), else an inotify watch on every directory -- `change_capture` picks,
//     auto by default, and the log and status say which is in use. Where the capture is
//     blind (directories inotify cannot watch; fanotify groups exhausted) the status says so
//     (capture_gaps, capture_warning) from before the crawl, and the unwatched directories
//     are rescanned every gap_rescan_ms, their watches retried, until all are watched. An
//     incremental pass looks only at the entries the capture named (and their directories), and at
//     everything beneath a directory that appeared -- created, moved in, or put in place of another
//     -- or that is gone (the index's entries there are gone too); its cost grows with the changes,
//     not with the tree or the directories they are in. A lost event (inotify's queue overflow)
//     makes the next pass a full one; so does the periodic safety rescan. The capture is drained
//     between passes and at every commit inside one (where the worker waits for the agent's Acks)
//     into changes_, for the next pass: fanotify's queue is unlimited, and this is what keeps it
//     from growing for longer than a batch.
//  Each pass ends with a durable Barrier; only once the agent's Ack arrives is the index
//  updated (and saved, atomically) and "last synced" advanced to the pass's start. Operations
//  the agent refused are counted as failures and retried, never recorded as synced.
//
// Recovery after a crash. The index can be wrong about the destination after a kill -9 of the
// worker, its agent or the ssh between them: operations the agent applied but whose Ack never
// came (a directory already renamed, links already made), or the reverse. The worker keeps a
// marker (`unclean`) in its state directory while it runs and removes it only when it stops
// cleanly; a worker that finds it at its start, and a pass
// whose operations the agent refused because a parent or entry the index says is there is
// missing (kNotFound) make the next full pass reconcile before it compares: the agent lists the
// destination's metadata (ListTree, wire.h), and the index is rebuilt from it and the scan
// (reconcile.h) -- entries as the source has them stay synced (no data is read again), entries
// that differ are sent again (whole, or only their metadata), links split at the destination are
// joined again, entries only the destination has are deleted. A refusal of that kind is thus
// resolved by the next pass, at once, instead of being retried against the same wrong index.
//
// Parallel transfer streams (sync_jobs N > 1): the worker opens N agent connections -- for a
// remote destination N ssh sessions, since ssh encrypts on one core per connection. Stream 0
// carries everything, in order, as with one stream. Streams 1..N-1 carry only the contents of
// regular files that cannot race with stream 0: a single link (hard links are joined by stream
// 0's bookkeeping), new or a content change of a regular file (not a type change), and a
// parent directory the destination has acknowledged with the inode scanned now (so stream 0
// neither creates, moves nor removes it during the pass). Each extra stream has its own thread,
// fed by a bounded queue; it commits its own batches and hands the acknowledged ones (with what
// its agent refused or it could not read) back to the pass, which settles them into the index.
// Directory metadata goes out on stream 0 only after every extra stream's batches are
// acknowledged (a file landing later would move its directory's mtime), and a pass ends only
// once all streams have acknowledged. A stream whose agent fails fails the pass, like stream 0.
//
// The status (status.json in the state directory, replaced atomically) is what the engine
// shows for the session's node. What it does is logged through spdlog's default logger (the
// worker points it at worker.log in the state directory): start, Faulty and recovery at info
// and above, each pass's summary at debug.
//
// Thread-safety: Run() on one thread; RequestStop() from any thread or a signal handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "replication/agent_link.h"
#include "replication/block_delta.h"
#include "replication/change_journal.h"
#include "replication/change_watcher.h"
#include "replication/scanner.h"
#include "replication/sender.h"
#include "replication/synced_index.h"
#include "replication/wire.h"

namespace georep::replication {

struct WorkerStatus;

// An operation the agent refused: why, and whether it was a source copy that found the file
// changed since it was read (kSourceChanged).
struct AgentRefusal {
  std::string message;
  bool source_changed = false;
  bool not_found = false;  // kNotFound: a parent or entry the index says is there is not
};

// The agent-link factory: yields the worker's connections to its agent. Production starts the
// agent's process (SpawningAgentLinks); tests connect to an agent in the same process.
class AgentLinks {
 public:
  virtual ~AgentLinks() = default;
  // A new connection for transfer stream `stream` (0: the one that carries everything).
  virtual Result<std::unique_ptr<AgentLink>> Open(int stream) = 0;
};

// Starts `argv` for each connection (SpawnAgent), its stderr appended to agent.log in
// `state_dir` (stream 0) or agent-N.log (stream N).
class SpawningAgentLinks final : public AgentLinks {
 public:
  SpawningAgentLinks(std::vector<std::string> argv, std::string state_dir)
      : argv_(std::move(argv)), state_dir_(std::move(state_dir)) {}
  Result<std::unique_ptr<AgentLink>> Open(int stream) override;

 private:
  std::vector<std::string> argv_;
  std::string state_dir_;
};

struct ReplicatorOptions {
  std::string source;     // the source directory
  std::string state_dir;  // index, status and logs of this session's worker
  // The agent's command line (`georep agent --root DEST`, behind `ssh HOST` when remote).
  std::vector<std::string> agent_argv;
  bool compress = false;
  bool ignore_deletes = false;
  std::vector<std::string> excludes;  // fnmatch(3) patterns on relative paths and names
  int rescan_interval_s = 3600;       // the safety rescan
  // A pass starts once changes have paused this long, or once the oldest waiting change is
  // max_delay_ms old (under a steady stream of changes, which never pauses); when every file
  // written since the last pass has been closed (no writer is at one, as far as the events
  // tell), once they have paused closed_settle_ms.
  int settle_ms = 50;
  int closed_settle_ms = 10;
  int max_delay_ms = 300;
  int64_t bandwidth_limit = 0;  // bytes/s to the agent; 0: unlimited
  // Each status update is also written here, as one line of JSON (a worker on another host
  // reports through its ssh connection: `georep worker --status-stdout`); -1: nowhere. The
  // worker stops when the line cannot be written (whoever read it is gone).
  int status_fd = -1;
  bool durable_batches = true;  // each pass ends on stable storage at the destination
  bool send_xattrs = true;      // extended attributes travel with the metadata
  bool send_acls = true;        // ... POSIX ACLs among them (sync-acls)
  ChangeCapture change_capture = ChangeCapture::kAuto;
  // Agent connections: stream 0 carries everything in order, the others file contents only.
  int sync_jobs = 1;
  // Directories the capture cannot watch are rescanned this often (or 4 times as long as
  // a round took, at most a minute), their watches tried again each time.
  int gap_rescan_ms = 2000;
  ChangeWatcherOptions capture;  // limits and kernel calls (tests inject them)
  // How long the agent may take to answer the handshake, and to acknowledge a batch, list the
  // destination, take a file into an extra stream's queue or finish a stream's pass.
  int64_t handshake_timeout_ms = 60'000;
  int64_t agent_timeout_ms = int64_t{30} * 60'000;
  // Seams (not owned; they must outlive the Replicator). `clock`: every time the worker reads,
  // deadline and back-off (the system's clock when unset). `env`: the files of the state
  // directory -- index, journal, status.json, the unclean marker (POSIX when unset).
  // `agent_links`: its connections to the agent (when unset, agent_argv's process, started
  // for each).
  Clock* clock = nullptr;
  Env* env = nullptr;
  AgentLinks* agent_links = nullptr;
  // Called with each status the worker writes (tests wait on it); on the worker's thread.
  std::function<void(const WorkerStatus&)> on_status;
};

// What a worker reports (status.json).
struct WorkerStatus {
  std::string state = "Initializing";  // Initializing, Active, Faulty, Stopped
  std::string crawl;                   // Hybrid Crawl, Changelog Crawl
  std::string change_capture;          // fanotify or inotify, once the worker watches
  // Every change before this is applied at the destination: the start of the last pass that
  // applied everything, or -- idle, nothing waiting, every directory watched -- the moment the
  // worker last found nothing waiting ("in step as of"). 0: never.
  int64_t last_synced_ms = 0;
  uint64_t pending_entry = 0, pending_data = 0, pending_meta = 0;
  uint64_t failures = 0;
  uint64_t bytes_sent = 0, files_sent = 0;  // file contents sent (logical bytes), files
  // File contents the destination has applied (logical bytes; a file counts once the agent
  // acknowledged its batch, and not when refused), since the state directory was made: the
  // engine's throughput is its growth over time. -1: not reported (an older worker).
  int64_t bytes_applied = -1;
  uint64_t wire_bytes = 0;          // bytes written to the agent (after compression)
  uint64_t delta_files = 0;         // files sent as a block delta ...
  uint64_t delta_copied_bytes = 0;  // ... and their bytes the destination copied
  // Lag, end to end: how long the oldest change not yet durable at the destination has waited
  // since the worker first saw it (the settle delay and the time in flight until the agent's
  // durable Ack included); 0 when nothing is pending. `oldest_pending_ms`: when that change
  // was seen (0: none), so a reader adds the time since updated_ms. -1: not known -- from the
  // worker's start until its first full pass is applied, unless the last run left a change
  // pending (then the lag counts from that one): what changed while no worker watched is
  // found by that pass, not seen as it happened.
  int64_t lag_ms = -1;
  int64_t oldest_pending_ms = 0;
  uint64_t pass_scanned = 0;  // entries the last pass looked at (a full pass: all of them)
  // Where change capture is blind, while it lasts: directories without a watch (rescanned
  // every few seconds instead), and a standing reason -- those gaps, or fanotify groups
  // exhausted -- with what would fix it. Data still flows: not Faulty.
  uint64_t capture_gaps = 0;
  std::string capture_warning;
  std::string reason;  // why Faulty, or the last failure
  // Not replicated on purpose, not failures: special files (Unix sockets; devices when the
  // agent is not root), and entries whose trusted.* / security.capability xattrs the agent
  // cannot set (it is not root); with the first one's reason.
  uint64_t skipped_special = 0;
  uint64_t skipped_xattrs = 0;
  std::string skipped_reason;
  std::string repaired;  // the last repair request (repair_request.h) a pass carried out
  int64_t updated_ms = 0;
};

std::string StatusToJson(const WorkerStatus& s);
Result<WorkerStatus> StatusFromJson(const std::string& text);
// The status a worker last wrote in `state_dir`.
Result<WorkerStatus> ReadWorkerStatus(const std::string& state_dir, Env* env = Env::Default());
// Replaces `state_dir`'s status.json (atomically: a reader never sees half of it).
Status WriteWorkerStatus(const std::string& state_dir, const WorkerStatus& status,
                         Env* env = Env::Default());

class Replicator {
 public:
  explicit Replicator(ReplicatorOptions options);
  ~Replicator();
  // Runs until RequestStop() (OK) or a failure that needs a restart (the caller restarts
  // with back-off; status.json says Faulty and why).
  Status Run();
  void RequestStop() { stop_.store(true); }
  // One full pass and return (for `georep worker --once`, tests and benchmarks).
  Status RunOnce();

 private:
  Status Connect();
  class FdSink;
  // The handshake on a new connection: sends Hello through `sender` and waits for the reply.
  // `source_copy` and `block_delta`: what the agent offers that this worker uses.
  // `version`: the protocol version agreed (optional).
  Status Handshake(AgentLink* link, FdSink* sink, std::string* buffer, TreeSender* sender,
                   bool* source_copy, bool* block_delta, uint32_t* version = nullptr) const;
  // Rebuilds index_ from the destination's listing (ListTree on stream 0, with nothing in
  // flight) and the source's scan `source` of the whole tree (reconcile.h); the next pass then
  // sends what differs. A version-1 agent cannot list: the index stays as it is.
  Status ReconcileWithDestination(const std::vector<ScanEntry>& source);
  // What an incremental pass looks at: everything beneath `subtrees`, and `entries` alone
  // (with their directories).
  struct PassScope {
    std::set<std::string> subtrees;
    std::set<std::string> entries;
  };
  Status Pass(const PassScope& changed, bool full);
  // Run()'s parts. Start: the index loaded, the agent connected, the capture watching.
  // CatchUp: the journal's History Crawl and the first full pass. WaitForChanges: waits (at
  // most 200 ms) for changes and says whether a pass is due (`full`: a full one).
  // ChangedPass: one pass of the Changelog Crawl, its failure reported (Faulty, then a pause
  // before the full pass that retries); non-OK only for a failure that ends the worker.
  Status Start();
  Status CatchUp(ChangeJournal& journal);
  Result<bool> WaitForChanges(int64_t last_full, bool* full);
  Status ChangedPass(ChangeJournal& journal, bool full);
  // Faulty with `why` in the status, the connections ended; returns `why`.
  Status Fail(const Status& why);
  class PassRun;  // one pass, from what it looks at to what the index records
  // Reads what the agent has replied so far (waiting up to `wait_ms` for something): Acks
  // advance acked_seq_, refusals go to refused_.
  Status ReadReplies(int wait_ms);
  void WriteStatus();
  // WriteStatus when the last status is kStatusEveryMs old: between passes and during one, so
  // that a reader sees the lag and what was applied move, and that the worker is alive.
  void StatusHeartbeat();
  static constexpr int64_t kStatusEveryMs = 1000;
  // What the last run's status says carries on: its last synced mark, its count of bytes
  // applied, the repair it carried out, and a change it left pending (carried_oldest_ms_).
  void CarryOverLastSynced();
  // A full pass has applied everything up to its start: from now on the capture sees every
  // change as it happens, and the lag is known.
  void FullPassApplied();
  // Idle, between passes: nothing waits, nothing failed, every directory is watched -- every
  // change made before `as_of` (read before the capture was drained) is at the destination.
  void NoteInStep(int64_t as_of);
  // How long the waiting changes must have paused before a pass takes them.
  int64_t SettleMs() const;
  // Bytes written to the agents, all streams together.
  uint64_t WireBytes() const;
  // Ends every agent connection cleanly (the extra streams first); the first failure.
  Status CloseStreams(int seconds);
  // Whether the source file at `path` is no longer the version recorded for it in `sent`
  // (changed, replaced or gone since it was read).
  bool SourceMovedOn(const std::vector<IndexDelta>& sent, const std::string& path) const;
  // Reads the change capture's waiting events into changes_ (between passes, and at each
  // commit of a pass: the kernel never holds more than a batch's worth).
  Status DrainChanges();
  // The unwatched directories' rescan, when due (between passes), into changes_.
  Status RescanCaptureGaps();
  // capture_gaps and capture_warning from the watcher; logged when the capture turns blind
  // somewhere, when its main cause changes and when it sees everything again -- not for each
  // directory or event.
  void NoteCaptureGaps(bool force);
  // A change arrived in changes_: the settle clock.
  void NoteChanged();
  bool Excluded(const std::string& path) const;
  // `path` changed under the running pass (gone mid-scan): the next pass looks at it, and
  // its lag counts on from the pass's.
  void LookAgainNextPass(const std::string& path);
  // Takes in a waiting repair request (repair_request.h): the index marked and saved, the file
  // removed; the next full pass carries it out. True when there was one.
  Result<bool> TakeRepairRequest();

  ReplicatorOptions options_;
  std::unique_ptr<SystemClock> system_clock_;  // when options_.clock is unset
  Clock* clock_;
  Env* env_;
  std::unique_ptr<AgentLinks> spawning_links_;  // when options_.agent_links is unset
  AgentLinks* agent_links_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<AgentLink> link_;
  std::unique_ptr<FdSink> sink_;
  std::unique_ptr<TreeSender> sender_;
  // What the destination is known to hold: only acknowledged batches change it.
  SyncedIndex index_;
  std::unique_ptr<IndexStore> index_store_;
  std::unique_ptr<SignatureStore> signatures_;  // of large files sent (block delta)
  // Guards signatures_: the extra streams' threads save the signatures of what they send.
  mutable std::mutex signatures_mutex_;
  // What the bandwidth limit allows all streams together.
  class RateLimit;
  std::unique_ptr<RateLimit> rate_;
  // The extra transfer streams (1..sync_jobs-1), each with its own agent and thread.
  class ContentStream;
  std::vector<std::unique_ptr<ContentStream>> streams_;
  bool block_delta_ = false;  // changed large files travel as a delta
  std::unique_ptr<Decoder> replies_;
  uint64_t acked_seq_ = 0;                    // the agent's last Ack
  std::map<uint64_t, AgentRefusal> refused_;  // by sequence
  WorkerStatus status_;
  std::string read_buffer_;
  bool want_full_ = false;                  // the last pass found a reason for a full one
  std::set<std::string> written_;           // files seen written that the current pass sends again
  std::unique_ptr<ChangeWatcher> watcher_;  // Run() only
  ChangeSet changes_;                       // seen, not yet handed to a pass
  int64_t first_change_ms_ = 0;             // the oldest of changes_ (0: none)
  int64_t pass_oldest_ms_ = 0;              // the oldest change the running pass carries (0: none)
  // The lag is known (WorkerStatus::lag_ms): a full pass was applied since the start, or the last
  // run left a change pending -- carried_oldest_ms_, when it saw it (0: none), pending until a
  // full pass is applied.
  bool lag_known_ = false;
  int64_t carried_oldest_ms_ = 0;
  int64_t last_change_ms_ = 0;      // the newest
  std::string capture_standing_;    // why not fanotify, when it ran out of something
  int64_t next_gap_rescan_ms_ = 0;  // the unwatched directories' next rescan
  int logged_gap_error_ = 0;        // the main cause of the gaps last logged
  // Special files not replicated (sockets, devices for an agent that is not root), by path,
  // with why: kept by each pass for what it looked at.
  std::map<std::string, std::string> not_replicated_;
  // Inodes with several links that changed: the next full pass joins their paths again.
  std::set<std::pair<uint64_t, uint64_t>> relink_;
  // The index may be wrong about the destination (the last run did not stop cleanly, or the
  // agent found missing what the index says it holds): the next full pass reconciles first.
  bool reconcile_ = false;
  uint32_t protocol_version_ = 0;  // agreed with stream 0's agent
  uint64_t list_requests_ = 0;
  std::string repairing_;  // the repair request taken in, until a full pass carries it out
};

}  // namespace georep::replication
