// Applier: the destination side of replication. It applies decoded wire messages (wire.h) to
// a destination root directory, which it treats as a mirror it owns.
//
// Guarantees:
//  * Every access stays beneath the root: paths are validated and opened with
//    path_beneath.h; the last component is always used with *at() calls that do not follow
//    symlinks, so a symlink in the destination is replaced, never written through.
//  * A file is never visible under its final name half-written: data goes to a temporary file
//    `.georep.<name>.<16 hex digits>.tmp` in the same directory, hashed as it is written;
//    only when FileEnd's XXH3-128 matches is it fsynced (per Durability) and renamed into
//    place. On a mismatch, a failed write (ENOSPC: "destination file system is full") or a
//    FileAbort, the temporary file is removed and the old file stays untouched.
//  * Replaying a stream converges: Unlink/Rmdir of missing entries succeed; an entry of the
//    wrong type in the way of Mkdir/Symlink/Hardlink/Rename/a file is removed (recursively),
//    because the source says what is there.
//  * Open() sweeps temporary files a killed agent left behind.
//
// Errors: a failed operation (bad path, missing parent, ENOSPC, hash mismatch...) is reported
// and the stream goes on; Handle() turns it into an Error reply. A stream that breaks the
// protocol (sequence numbers not increasing, FileData outside a file, ...) makes Handle()
// return non-OK: the agent must then close the connection.
//
// Thread-safety: none; an Applier serves one stream. With ApplierOptions::file_threads it
// writes small files on threads of its own, but only inside HandleAll(), which waits for them
// whenever what comes next could depend on them.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "base/work_queue.h"
#include "replication/content_hash.h"
#include "replication/path_beneath.h"
#include "replication/wire.h"

namespace georep::replication {

// How eagerly the applier syncs. A Barrier with `durable` set always syncs the whole
// destination file system (syncfs) before its Ack says durable, whatever the level.
enum class Durability {
  kNone,  // no fsync; after a crash a renamed-in file may be empty or partial
  // Files of a batch stay under their temporary names until the batch ends (a Barrier, or an
  // operation that must see them in place): then one syncfs puts all their data on stable
  // storage, and only then are they renamed into place. As safe as kFile against power loss
  // -- never a partial file under its final name -- for one syncfs per batch while the
  // stream flows (see HandleAll), instead of one fsync per file. Needs Handle()/HandleAll()
  // (Apply() alone never ends a batch).
  kBatch,
  kFile,              // fsync each file's data before renaming it into place
  kFileAndDirectory,  // also fsync the directory after each entry is created or removed
};

// The system calls through which the applier changes file contents and renames, so tests
// can inject ENOSPC or EIO. Each returns what the system call returns and sets errno.
class FileSystemCalls {
 public:
  virtual ~FileSystemCalls() = default;
  virtual ssize_t Pwrite(int fd, const void* buf, size_t count, off_t offset);
  virtual ssize_t CopyFileRange(int in, off_t* in_offset, int out, off_t* out_offset, size_t count);
  virtual int Ftruncate(int fd, off_t length);
  virtual int Fsync(int fd);
  virtual int Syncfs(int fd);
  virtual int Renameat(int old_dir, const char* old_name, int new_dir, const char* new_name);
  virtual int Mkdirat(int dir, const char* name, mode_t mode);
};

struct ApplierOptions {
  Durability durability = Durability::kFile;
  // Apply SetMeta owners (chown), trusted.* and security.capability xattrs, and make device
  // nodes (kCapPrivilegedXattrs and kCapDevices are offered only then). Unset: owners when
  // running as root, the rest only as the host's root (not root of a user namespace).
  std::optional<bool> privileged;
  uint64_t capabilities = kCapabilitiesSupported;
  bool sweep_temp_files = true;  // at Open()
  // The source tree, when it is on this host: SourceCopy reads beneath it (kCapSourceCopy is
  // offered only when this is set).
  std::string source_root;
  // How long an Ack has been held (HandleAll); the system's clock when unset. Not owned.
  Clock* clock = nullptr;
  // HandleAll() writes each whole file of at most kFileJobBytes that arrives complete in one
  // call (FileBegin, its FileData, FileEnd and the SetMeta after it) on one of this many
  // threads: created, filled, verified, given its metadata and synced per `durability`,
  // and renamed into place (or staged, kBatch). 0: every file on the caller's thread.
  // The outcome is the same: HandleAll waits for the files in flight, and replies their
  // failures in stream order, before any other operation, a Barrier, or a file of the same
  // path. On many small files the destination's create, write and rename then run on
  // several cores instead of one. `calls` must then be thread-safe.
  size_t file_threads = 0;
};

class Applier {
 public:
  // Opens the destination root (which must exist) and sweeps stale temporary files.
  // `calls` (optional, not owned) must outlive the Applier.
  static Result<std::unique_ptr<Applier>> Open(const std::string& root, ApplierOptions options = {},
                                               FileSystemCalls* calls = nullptr);
  ~Applier();  // removes the temporary file of a transfer left unfinished
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Processes one message of the conversation, appending replies (HelloReply, Error, Ack).
  // Non-OK: the stream broke the protocol; reply with nothing more and close.
  Status Handle(const Message& message, std::vector<Message>* replies);
  // Handle() for each of `messages` in order, with one shortcut: a FileEnd followed by the
  // SetMeta of the same file is applied as one step -- owner, mode, xattrs and times go onto
  // the temporary file before it is renamed into place, which saves a lookup and a handful of
  // system calls per file. The outcome is the same as handling them one by one.
  //
  // Pipelined commits: `more_input` says the caller already holds more of the stream. Then a
  // durable Barrier does not wait for its sync: the sync of the destination file system
  // runs on a thread of its own while the next batch is applied, and the batch's staged files
  // (kBatch) are renamed into place when it is done -- at the next Barrier, or before an
  // operation that needs them in place. The Ack waits for the sync after those renames,
  // which is the next batch's own: one syncfs per batch instead of two, and the disk's time
  // overlaps the next batch's work. An Ack not yet durable holds back itself and every reply
  // after it (in order; they come out of a later call, first in its `replies`). A sync that
  // fails turns each Ack it served into an Error for its Barrier and a non-durable Ack, and
  // each file waiting for it into an Error of its own (its temporary file removed).
  // Without `more_input`, or when the stream breaks, everything is synced and replied before
  // HandleAll returns: a caller about to wait for input never holds an Ack back. Nor is an
  // Ack held for more than kMaxHoldMillis while the stream goes on without a Barrier (a large
  // file): then too everything is synced and replied.
  static constexpr int64_t kMaxHoldMillis = 200;
  static constexpr uint64_t kFileJobBytes = 1u << 20;  // see ApplierOptions::file_threads
  Status HandleAll(const std::vector<Message>& messages, std::vector<Message>* replies,
                   bool more_input = false);
  // Whether a reply is held back, or a sync or a file in flight (see HandleAll).
  bool holding_ack() const { return !out_.empty() || sync_.valid() || !jobs_.empty(); }

  // Applies one operation (no handshake needed) and returns its own result. Per-operation
  // failures leave the Applier ready for the next operation; a protocol violation is
  // reported as a Status with code kFailedPrecondition or kCorruption and `stream_broken()`.
  Status Apply(const Message& operation);

  uint64_t applied_seq() const { return applied_seq_; }
  bool stream_broken() const { return stream_broken_; }
  // The wire ErrorCode for the last failed Apply().
  ErrorCode last_error_code() const { return last_error_code_; }
  size_t swept_temp_files() const { return swept_temp_files_; }

  // True for names the applier creates for in-flight files: `.georep.<x>.<16 hex>.tmp`.
  static bool IsTempName(std::string_view name);

 private:
  struct OpenFile;
  struct Staged;
  struct Parent {
    std::shared_ptr<UniqueFd> owned;  // empty when the parent is the root
    int fd = -1;
    std::string leaf;
  };

  Applier(UniqueFd root, ApplierOptions options, FileSystemCalls* calls);

  Status ApplyOne(const Message& operation);
  Status Fail(ErrorCode code, Status status);
  Status FailErrno(int err, std::string_view what, std::string_view path);
  Status BreakStream(const std::string& message);

  // The directory holding `path`, opened beneath the root. The last directory opened is kept
  // open for the next operation (files arrive directory by directory); anything that removes
  // or moves a directory forgets it.
  Result<Parent> OpenParent(std::string_view path);
  void ForgetParent() {
    cached_parent_.reset();
    cached_parent_path_.clear();
  }
  std::string NewTempName(std::string_view leaf);
  Status SyncDirectory(int dir_fd, std::string_view path);
  // Removes `name` in `dir` whatever it is (a directory with all it holds), without following
  // symlinks or crossing into other file systems. Missing is success.
  Status RemoveTree(int dir, const std::string& name, const std::string& path);
  // renameat(); when an entry of another type or a non-empty directory is in the way, it is
  // removed and the rename retried.
  Status RenameReplacing(int from_dir, const std::string& from_name, int to_dir,
                         const std::string& to_name, const std::string& to_path);
  Status SweepTempFiles(int dir, const std::string& path, dev_t dev, int depth);
  void AbandonFile();
  // kBatch: the verified file under `temp` in `parent` waits for its batch's sync before it
  // is renamed to `path`; `seq` is the operation a failure is replied for.
  void Stage(const Parent& parent, const std::string& temp, const std::string& path, uint64_t seq);
  // kBatch: syncs the staged files' data and renames them into place; a failure becomes an
  // Error reply for the file's own operation.
  void FlushStaged();
  // Whether `message` needs the files of `paths`, renamed into `dirs`, in place first.
  static bool EndsBatch(const Message& message, const std::set<std::string>& paths,
                        const std::set<std::string>& dirs);

  Status DoMkdir(const Mkdir& m);
  Status DoSymlink(const Symlink& m);
  Status DoMakeNode(const MakeNode& m);
  Status DoHardlink(const Hardlink& m);
  void NoteUnwritten(const std::string& path) { unwritten_.insert(path); }
  // `from` and what is beneath it leave unwritten_; with `to`, they are there now instead
  // (what was at `to` replaced).
  void MoveUnwritten(const std::string& from, const std::string* to);
  Status DoRename(const Rename& m);
  Status DoUnlink(const std::string& path, bool directory);
  Status DoSetMeta(const SetMeta& m);
  // SetMeta onto the new file open at `fd` (`mode` when the SetMeta has none); touches no
  // member but the options (any thread). A failure's code goes to `*code`.
  Status SetMetaOnNewFile(int fd, uint32_t mode, const SetMeta& m, ErrorCode* code) const;
  // kUnsupported for an xattr outside the namespaces this agent replicates.
  Status CheckManagedXattrs(const std::vector<Xattr>& xattrs, const std::string& path);
  Status DoSetXattrs(const std::string& proc_path, const std::string& path,
                     const std::vector<Xattr>& xattrs);
  Status DoFileBegin(const FileBegin& m);
  Status DoFileData(const FileData& m);
  Status DoBlockCopy(const BlockCopy& m);
  Status DoSourceCopy(const SourceCopy& m);
  // Writes `bytes` at `offset` of the file being transferred (hashed by the caller) and starts
  // their writeback when large. On failure the caller abandons the transfer.
  Status WriteFileBytes(std::string_view bytes, uint64_t offset);
  // Copies `length` bytes at `from_offset` of `from` to `offset` of the file being
  // transferred, hashing them. `short_read` is the failure when `from` ends too soon.
  // The copy is made in the kernel (copy_file_range: no trip through this process, a reflink
  // where the file system can share blocks) and hashed from the page cache through a
  // mapping of the temporary file; read and write where the kernel cannot.
  Status CopyIntoFile(int from, uint64_t from_offset, uint64_t offset, uint64_t length,
                      std::string_view what, ErrorCode short_code, std::string_view short_read);
  // Ends a new file's transfer (DoFileEnd, RunFileJob; any thread): its size and hash checked
  // against `m` (`received` bytes written, `hasher` fed with them), its size set, `meta` (or
  // `mode`) put on it, synced per the durability, closed. A failure's code goes to `*code`;
  // the caller removes the temporary file. A metadata failure is the SetMeta's own
  // (`*meta_status`, `*meta_code`): the content still goes into place.
  Status CloseNewFile(UniqueFd* fd, ContentHasher* hasher, uint64_t received, bool source_copied,
                      uint32_t mode, const std::string& path, const FileEnd& m, const SetMeta* meta,
                      Status* meta_status, ErrorCode* meta_code, ErrorCode* code) const;
  // `meta`: the file's SetMeta, applied before the rename (HandleAll's shortcut).
  Status DoFileEnd(const FileEnd& m, const SetMeta* meta = nullptr, Status* meta_status = nullptr);
  // Handle() of a FileEnd and its SetMeta together.
  Status HandleFileEndWithMeta(const FileEnd& end, const SetMeta& meta);
  Status DoBarrier(const Barrier& m);
  Status HandleOne(const Message& message);
  // Before `message` is applied: the staged files it needs in place are put there.
  void PrepareFor(const Message& message);

  // ---- whole small files written on ApplierOptions::file_threads (HandleAll) ----
  struct FileJob;
  // The file whose FileBegin is messages[i], handed to a thread when it can be: all of it is
  // in `messages`, it is at most kFileJobBytes, and it keeps to the protocol (anything else
  // is left to HandleOne, which reports it). The index of the file's last message (its
  // FileEnd, or the SetMeta after it), or 0 when the file was not taken.
  size_t StartFileJob(const std::vector<Message>& messages, size_t i);
  // Whether a file in flight is at `path`, beneath it, or at a directory above it.
  bool TouchesFileJobs(const std::string& path) const;
  // Whether `message` must wait for the files in flight: it touches one of their paths
  // (or a directory above one, or one below its path), or it is a Barrier. Replies may then
  // come out of stream order; an Ack still follows every reply of its batch.
  bool NeedsFileJobs(const Message& message) const;
  // Hands the files taken since the last group to a thread.
  void StartFileGroup();
  // On a file thread: touches only `job`, the options and calls_.
  void RunFileJob(FileJob& job) const;
  // Takes the outcomes of the oldest files in flight, in stream order, until at most `keep`
  // are left: failures are replied, kBatch files staged.
  void FinishFileJobs(size_t keep = 0);

  // ---- replies and pipelined commits (HandleAll) ----
  // Where a reply stands: free to go (kNone); an Ack waiting for its batch's files to be
  // renamed in (kRenames), for the next sync to start (kNextSync), or for sync number `sync`
  // to end (kSync).
  enum class Hold { kNone, kRenames, kNextSync, kSync };
  struct Out {
    Message message;
    Hold hold = Hold::kNone;
    uint64_t barrier = 0;  // an Ack's Barrier
    uint64_t sync = 0;
    int64_t held_at_ms = 0;  // when a held Ack was emitted (monotonic)
  };
  void Emit(Message m) { out_.push_back(Out{std::move(m)}); }
  // Before the Ack of `barrier`, or last when that Ack is not out yet.
  void EmitBefore(uint64_t barrier, Message m);
  // The Ack at out_[i] cannot say durable: it goes out behind an Error for its Barrier.
  void FailAck(size_t i, const Status& why, ErrorCode code);
  // Syncs the destination file system: on a thread of its own when `async`. The Acks waiting
  // for the next sync wait for this one.
  void StartSync(bool async);
  // Waits for the sync in flight (if any); renames the files whose data it covered into
  // place; releases the Acks it served. Failures are replied (the files' Errors, the Acks');
  // the outcome (OK when none was in flight) is for a Barrier that syncs for itself.
  Status FinishSync();
  // Afterwards nothing is held or in flight.
  void SyncEverything();
  // Renames `files` (distinct paths, synced) into place on the file threads, when there are
  // enough of them: plain renames only; each one done is marked in `renamed`, the others
  // (something in the way, a failure) are left to RenameReplacing on this thread.
  void RenameOnFileThreads(const std::vector<Staged>& files, std::vector<char>* renamed);

  UniqueFd root_;
  UniqueFd source_root_;  // options_.source_root, open (SourceCopy)
  dev_t root_dev_ = 0;
  ApplierOptions options_;
  bool privileged_ = false;
  // The capabilities that say which xattrs this agent manages (sets, and removes when the
  // source has them no more): its own, then the session's once the handshake is done.
  uint64_t managed_ = 0;
  FileSystemCalls* calls_;
  std::unique_ptr<FileSystemCalls> default_calls_;
  Clock* clock_;
  std::unique_ptr<Clock> default_clock_;
  std::unique_ptr<OpenFile> file_;
  std::string copy_buffer_;     // BlockCopy's and SourceCopy's
  bool copy_in_kernel_ = true;  // until copy_file_range says it cannot here
  // kBatch: files complete and verified, still under their temporary names.
  struct Staged {
    std::shared_ptr<UniqueFd> parent_owned;
    int parent = -1;
    std::string temp, leaf, path;
    uint64_t seq = 0;
  };
  std::vector<Staged> staged_;
  std::set<std::string> staged_paths_;  // their final paths
  std::set<std::string> staged_dirs_;   // the directories they are renamed into
  // Files whose last transfer failed: they still hold their old content, which a Hardlink to
  // one would give its new path while the worker records the new content there (and never
  // sends it again). Such a Hardlink is refused too. A path leaves when a transfer to it
  // begins, or when it is moved or removed.
  std::set<std::string> unwritten_;
  // The path of a transfer just refused: the SetMeta that comes with it is not applied.
  std::string meta_skip_path_;
  std::string transfer_path_;  // the path of the last FileBegin on this thread
  std::shared_ptr<UniqueFd> cached_parent_;
  std::string cached_parent_path_;
  // Set while the data of a failed transfer is still arriving (skipped until FileEnd).
  bool skipping_file_ = false;
  bool handshake_done_ = false;
  bool stream_broken_ = false;
  uint64_t applied_seq_ = 0;
  uint64_t temp_counter_ = 0;
  uint64_t temp_salt_ = 0;
  ErrorCode last_error_code_ = ErrorCode::kOther;
  ErrorCode meta_error_code_ = ErrorCode::kOther;
  size_t swept_temp_files_ = 0;
  // Pipelined commits (HandleAll): the replies not out yet; the staged files whose data the
  // sync in flight covers, with their Barrier (0: not sent yet) and paths; that sync (its
  // errno) and the number of syncs started; whether this Barrier may leave its sync in
  // flight; how its Ack waits (DoBarrier tells HandleOne); whether HandleAll is running.
  std::deque<Out> out_;
  std::vector<Staged> syncing_;
  uint64_t syncing_barrier_ = 0;
  std::set<std::string> syncing_paths_;
  std::set<std::string> syncing_dirs_;
  std::future<int> sync_;
  uint64_t syncs_started_ = 0;
  bool may_defer_ = false;
  Hold barrier_hold_ = Hold::kNone;
  bool collecting_ = false;
  // Files in flight on file_queue_ (stream order), their paths and bytes; a job's `done` is
  // guarded by jobs_mutex_.
  std::unique_ptr<WorkQueue> file_queue_;
  std::deque<std::unique_ptr<FileJob>> jobs_;
  std::set<std::string> job_paths_;
  uint64_t job_bytes_ = 0;
  std::vector<FileJob*> forming_;  // the last of jobs_, not handed to a thread yet
  uint64_t forming_bytes_ = 0;
  std::string lane_dir_;  // the directory of the last file taken, and its thread's lane
  size_t lane_ = 0;
  std::mutex jobs_mutex_;
  std::condition_variable job_done_;
};

}  // namespace georep::replication
