// Internal to the Replicator (replicator.cc, replicator_pass.cc): the helpers, batches and
// agent streams a pass and the worker's loop share. Not for other users.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "replication/reconcile.h"
#include "replication/replicator.h"
#include "replication/wire.h"

namespace georep::replication {
namespace replicator_internal {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline bool Under(const std::string& path, const std::string& dir) {
  if (dir == "." || dir.empty()) return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

// The directory `path` is in: "a/b/c" -> "a/b", "c" -> ".".
inline std::string ParentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

inline IndexEntry FromScan(const ScanEntry& e) {
  return IndexEntryOf(e);
}

// The destination holds this content already (metadata aside).
inline bool SameContent(const IndexEntry& i, const ScanEntry& e) {
  return i.type == e.type && i.size == e.size && i.mtime_ns == e.mtime_ns && i.dev == e.dev &&
         i.ino == e.ino;
}

// A pass commits (Barrier, Ack, index updated) every kBatchOps operations or kBatchBytes
// sent, with up to kBatchesInFlight batches sent ahead of the agent's acknowledgements.
inline constexpr size_t kBatchOps = 1000;
inline constexpr uint64_t kBatchBytes = 16u << 20;
inline constexpr size_t kBatchesInFlight = 4;

// Reads the replies in `buffer`: Acks advance `acked`, refusals go to `refused` (by seq).
template <typename Refusals>
Status ParseReplies(Decoder* decoder, std::string* buffer, uint64_t* acked, Refusals* refused) {
  std::vector<Message> in;
  GEOREP_RETURN_IF_ERROR(decoder->Feed(*buffer, &in));
  buffer->clear();
  for (const Message& m : in) {
    if (const auto* e = std::get_if<Error>(&m)) {
      if (e->seq == 0) return Status::Unavailable("the agent failed: " + e->message);
      (*refused)[e->seq] = {e->message, e->code == ErrorCode::kSourceChanged,
                            e->code == ErrorCode::kNotFound};
    } else if (const auto* a = std::get_if<Ack>(&m)) {
      *acked = std::max(*acked, a->applied_seq);
    }
  }
  return Status::Ok();
}

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
};

// Records that the operation just sent for `path` ended at `last_seq`: the agent's refusal of
// any of its messages is matched with it (Resolve: the first operation ending at or after the
// refused seq). An operation that sent nothing -- a file gone before it could be opened, a
// socket not replicated -- ends at no seq of its own: `last_seq` is still that of the operation
// before it (or of the last Barrier, `*marked`), which keeps its place. (Recorded there, the
// operation that sent nothing took the refusals of the one before it, which was then recorded
// as applied.)
inline void NoteOperation(std::map<uint64_t, std::string>* op_path, uint64_t* marked,
                          uint64_t last_seq, const std::string& path) {
  if (last_seq == *marked) return;
  *marked = last_seq;
  (*op_path)[last_seq] = path;
}

// What the sender could not send goes to `b`: an entry gone from the source, or no longer the
// one scanned (kNotFound, and `moved_on(b->deltas, path)` agrees: the source shows it changed)
// is looked at again; anything else is refused -- also a kNotFound that the source does not
// bear out (a source root replaced under the worker, a name that lists but cannot be opened).
template <typename MovedOn>
void NoteUnsent(const ScanError& e, Batch* b, MovedOn moved_on) {
  if (e.status.code() == StatusCode::kNotFound && moved_on(b->deltas, e.path)) {
    b->resend.insert(e.path);
  } else {
    b->refused.emplace_back(e.path, e.status.message());
  }
}

// A SetMeta the sender could not send whole (TreeSender::TakeMetaErrors): an entry gone since
// the scan went without its xattrs -- recorded as there, its metadata not current; any other
// error is a failure.
inline void NoteMetaUnsent(const ScanError& e, Batch* b) {
  if (e.status.code() == StatusCode::kNotFound) {
    b->meta_unsent.insert(e.path);
  } else {
    b->refused.emplace_back(e.path, e.status.message());
  }
}

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
};

// Matches the agent's refusals up to `b`'s Barrier with the operations of `b` (and takes them
// from `refused`). `moved_on(deltas, path)`: whether the source file is no longer what was sent.
template <typename Refusals, typename MovedOn>
SettledBatch Resolve(Batch& b, Refusals* refused, MovedOn moved_on) {
  SettledBatch s;
  s.refused = std::move(b.refused);
  s.resend = std::move(b.resend);
  for (auto f = refused->begin(); f != refused->end() && f->first <= b.barrier;) {
    if (auto op = b.op_path.lower_bound(f->first); op != b.op_path.end()) {
      // A file rewritten while the agent copied it is sent again once its change is seen (the
      // rewrite queued a change event); it is a failure only if it still looks as sent.
      if (f->second.source_changed && moved_on(b.deltas, op->second))
        s.resend.insert(op->second);
      else
        s.refused.emplace_back(op->second, f->second.message);
      s.not_found = s.not_found || f->second.not_found;
    }
    f = refused->erase(f);
  }
  s.deltas = std::move(b.deltas);
  s.moved_in = std::move(b.moved_in);
  s.meta_unsent = std::move(b.meta_unsent);
  return s;
}

// What an acknowledged batch changes in `index`: its deltas, except for the paths refused or to
// be looked at again, which stay as the destination holds them, marked not current -- as the
// index has them (mtime -1: sent again next pass), or, for a path the index does not have, as a
// Rename of this batch put it there (the Rename was applied; what was refused came after it:
// its metadata is sent again, ctime -1, not its content).
// A path neither has is not at the destination: it leaves the index (sent as new next pass).
// (A file a rename of its directory moved, whose sending then failed, used to leave the index
// while the destination held it at its new path: nothing ever deleted it there.)
inline std::vector<IndexDelta> SettledDeltas(SettledBatch& b, const SyncedIndex& index) {
  std::set<std::string> refused_paths = std::move(b.resend);
  for (const auto& r : b.refused) refused_paths.insert(r.first);
  std::vector<IndexDelta> applied;
  applied.reserve(b.deltas.size() + refused_paths.size());
  for (auto& d : b.deltas) {
    if (refused_paths.count(d.path)) continue;
    // Metadata not sent whole: the entry as sent, its metadata not current (ctime -1: sent
    // again wherever the next pass finds it -- moved along with a renamed directory too).
    if (d.entry && b.meta_unsent.count(d.path)) d.entry->ctime_ns = -1;
    applied.push_back(std::move(d));
  }
  for (const auto& p : refused_paths) {
    std::optional<IndexEntry> held;
    if (auto old = index.find(p); old != index.end()) {
      held = old->second;
      held->mtime_ns = -1;  // differs from anything: sent again next pass
    } else if (auto moved = b.moved_in.find(p); moved != b.moved_in.end()) {
      // The Rename carried this very content there (a transfer is written aside and renamed
      // into place, so a refused one left it as it was): the content is known, and not sent
      // again; its metadata may have been half set by what came after -- sent again.
      held = moved->second;
      held->ctime_ns = -1;
    }
    applied.push_back({p, std::move(held)});
  }
  return applied;
}

// A file for an extra stream, and what the index records for it once it is applied.
struct FileJob {
  ScanEntry entry;
  IndexEntry recorded;
  std::optional<BlockSignature> basis;  // the destination's version (block delta)
  uint64_t bytes = 0;
};

inline constexpr size_t kStreamQueueFiles = 256;  // files waiting for one extra stream, at most

}  // namespace replicator_internal
using namespace replicator_internal;  // NOLINT(google-build-using-namespace): internal header

// ------------------------------------------------------------------ the agent stream

// The bandwidth limit, shared by all streams: together they are never ahead of `limit` bytes
// per second since the first write on any of them.
class Replicator::RateLimit {
 public:
  explicit RateLimit(int64_t limit) : limit_(limit) {}
  // How long to wait before writing more (0: now).
  int WaitMs() {
    if (limit_ <= 0) return 0;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
      start_ = now;
    }
    const double allowed =
        std::chrono::duration<double>(now - start_).count() * static_cast<double>(limit_);
    if (static_cast<double>(bytes_) <= allowed) return 0;
    const double wait_s = (static_cast<double>(bytes_) - allowed) / static_cast<double>(limit_);
    return static_cast<int>(std::min(wait_s * 1000.0, 200.0)) + 1;
  }
  void Sent(uint64_t n) {
    if (limit_ <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    bytes_ += n;
  }

 private:
  const int64_t limit_;
  std::mutex mutex_;
  bool started_ = false;
  uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Writes frames to the agent while draining its replies, so that neither side can block the
// other when the agent has many errors to report.
class Replicator::FdSink final : public FrameSink {
 public:
  // `abort` (optional): set when the stream's thread is to stop; a write waiting for the
  // agent then gives up.
  FdSink(int to, int from, std::string* replies, RateLimit* rate,
         const std::atomic<bool>* abort = nullptr)
      : to_(to), from_(from), replies_(replies), rate_(rate), abort_(abort) {
    ::fcntl(to_, F_SETFL, ::fcntl(to_, F_GETFL) | O_NONBLOCK);
  }
  Status Write(std::string_view frames) override {
    while (!frames.empty()) {
      if (abort_ != nullptr && abort_->load()) return Status::Unavailable("the stream stops");
      if (const int wait_ms = rate_->WaitMs(); wait_ms > 0) {
        GEOREP_RETURN_IF_ERROR(Drain(wait_ms));
        continue;
      }
      pollfd fds[2] = {{to_, POLLOUT, 0}, {from_, POLLIN, 0}};
      // Wakes up every second to see `abort`; an agent that takes longer is waited for.
      if (::poll(fds, 2, 1000) < 0) {
        if (errno == EINTR) continue;
        return Status::IOError(std::string("poll: ") + strerror(errno));
      }
      if (fds[1].revents & (POLLIN | POLLHUP)) GEOREP_RETURN_IF_ERROR(Drain());
      if (fds[0].revents & (POLLERR | POLLHUP))
        return Status::Unavailable("the agent closed the connection");
      if (fds[0].revents & POLLOUT) {
        ssize_t n = ::write(to_, frames.data(), frames.size());
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0)
          return Status::Unavailable(std::string("cannot write to the agent: ") + strerror(errno));
        bytes += static_cast<uint64_t>(n);
        rate_->Sent(static_cast<uint64_t>(n));
        frames.remove_prefix(static_cast<size_t>(n));
      }
    }
    return Status::Ok();
  }
  // Reads what the agent has sent so far (without blocking when `wait_ms` is 0).
  Status Drain(int wait_ms = 0) {
    pollfd fd = {from_, POLLIN, 0};
    int r = ::poll(&fd, 1, wait_ms);
    if (r <= 0) return Status::Ok();
    char buf[65536];
    ssize_t n = ::read(from_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return Status::Ok();
    if (n < 0)
      return Status::Unavailable(std::string("cannot read from the agent: ") + strerror(errno));
    if (n == 0) return Status::Unavailable("the agent closed the connection");
    replies_->append(buf, static_cast<size_t>(n));
    return Status::Ok();
  }
  std::atomic<uint64_t> bytes{0};

 private:
  int to_, from_;
  std::string* replies_;
  RateLimit* rate_;
  const std::atomic<bool>* abort_;
};

// ------------------------------------------------------------------ extra transfer streams

// One extra stream: its own agent, sender and thread. The pass queues files (Push); the
// thread sends them, commits its own batches and hands the acknowledged ones back (Take).
// Everything the thread shares with the pass goes through mutex_.
class Replicator::ContentStream {
 public:
  ContentStream(const Replicator* owner, int number) : owner_(owner), number_(number) {}
  ~ContentStream() {
    Stop();
    if (link_) (void)link_->Close(5);
  }

  // Spawns the agent and does the handshake (on the caller's thread), then starts the thread.
  Status Connect() {
    const ReplicatorOptions& o = owner_->options_;
    GEOREP_ASSIGN_OR_RETURN(link_, SpawnAgent(o.agent_argv, o.state_dir + "/agent-" +
                                                                std::to_string(number_) + ".log"));
    sink_ = std::make_unique<FdSink>(link_->write_fd(), link_->read_fd(), &buffer_,
                                     owner_->rate_.get(), &stop_);
    SenderOptions so;
    so.compress = o.compress;
    so.send_xattrs = o.send_xattrs;
    so.read_privileged_xattrs = o.send_xattrs && ::geteuid() == 0;
    GEOREP_ASSIGN_OR_RETURN(sender_, TreeSender::Open(o.source, sink_.get(), so));
    bool source_copy = false;
    GEOREP_RETURN_IF_ERROR(owner_->Handshake(link_.get(), sink_.get(), &buffer_, sender_.get(),
                                             &source_copy, &block_delta_));
    sender_->EnableSourceCopy(source_copy);
    sender_->EnableBlockDelta(block_delta_);
    wire_bytes_ = sink_->bytes.load();
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  // Stops the thread (what it was sending is abandoned: the pass failed).
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // Ends the connection cleanly (after Stop).
  Status Close(int seconds) {
    Stop();
    if (!link_) return Status::Ok();
    Status st = link_->Close(seconds);
    link_.reset();
    return st;
  }

  // Queues a file, waiting up to `wait_ms` for room. `queued`: whether it was.
  Status Push(FileJob& job, int wait_ms, bool* queued) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                      [&] { return !failure_.ok() || jobs_.size() < kStreamQueueFiles; });
    *queued = false;
    if (!failure_.ok()) return failure_;
    if (jobs_.size() >= kStreamQueueFiles) return Status::Ok();
    queued_bytes_ += job.bytes;
    jobs_.push_back(std::move(job));
    pass_done_ = false;
    *queued = true;
    changed_.notify_all();
    return Status::Ok();
  }
  uint64_t queued_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return queued_bytes_;
  }
  // Asks for everything queued to be committed and acknowledged (PassDone says when).
  void EndPass() {
    std::lock_guard<std::mutex> lock(mutex_);
    end_pass_ = true;
    pass_done_ = false;
    changed_.notify_all();
  }
  // Waits up to `wait_ms` for the pass's end to be acknowledged (or a failure).
  bool WaitPassDone(int wait_ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] {
      return pass_done_ || !failure_.ok();
    }) && pass_done_;
  }
  // Whether the last pass's end was acknowledged: nothing is queued or in flight.
  bool Idle() {
    std::lock_guard<std::mutex> lock(mutex_);
    return pass_done_;
  }
  // Takes the acknowledged batches; non-OK once the stream failed.
  Status Take(std::vector<SettledBatch>* out) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& b : settled_) out->push_back(std::move(b));
    settled_.clear();
    return failure_;
  }
  Status Failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    return failure_;
  }
  // What this stream sent since the last call (skipped files are in its batches instead).
  SendReport TakeCounters() {
    std::lock_guard<std::mutex> lock(mutex_);
    SendReport r = std::exchange(counters_, {});
    return r;
  }
  uint64_t wire_bytes() const { return wire_bytes_.load(); }
  int read_fd() const { return link_ ? link_->read_fd() : -1; }

 private:
  void Loop() {
    for (;;) {
      std::optional<FileJob> job;
      bool end = false;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // Wakes up now and then while idle to read the agent's replies.
        changed_.wait_for(lock, std::chrono::milliseconds(200),
                          [&] { return stop_.load() || !jobs_.empty() || end_pass_; });
        if (stop_.load()) return;
        if (!jobs_.empty()) {
          job = std::move(jobs_.front());
          jobs_.pop_front();
        } else if (end_pass_) {
          end = true;
        }
      }
      Status st = Status::Ok();
      if (job) {
        st = Send(*job);
      } else if (end) {
        st = pending_ops_ > 0 ? Commit(true) : Collect(0, true);
      } else {
        st = Collect(kBatchesInFlight, false);
      }
      wire_bytes_.store(sink_->bytes.load());
      std::lock_guard<std::mutex> lock(mutex_);
      if (job) queued_bytes_ -= job->bytes;
      if (!st.ok()) {
        if (failure_.ok()) {
          const std::string tail = link_->ErrorTail();
          failure_ = Status::Unavailable("transfer stream " + std::to_string(number_) + ": " +
                                         st.message() + (tail.empty() ? "" : ": " + tail));
        }
        changed_.notify_all();
        return;
      }
      if (end) {
        end_pass_ = false;
        pass_done_ = true;
      }
      changed_.notify_all();
    }
  }

  Status Send(const FileJob& job) {
    BlockSignature fresh;
    SendReport report;
    GEOREP_RETURN_IF_ERROR(sender_->SendEntry(job.entry, &report, job.basis ? &*job.basis : nullptr,
                                              block_delta_ ? &fresh : nullptr));
    if (block_delta_) {
      std::lock_guard<std::mutex> lock(owner_->signatures_mutex_);
      if (fresh.block_size != 0) {
        (void)owner_->signatures_->Save(job.entry.path, fresh);  // lost: the next goes whole
      } else if (job.basis) {
        owner_->signatures_->Forget(job.entry.path);
      }
    }
    pending_.deltas.push_back({job.entry.path, job.recorded});
    NoteOperation(&pending_.op_path, &marked_seq_, sender_->last_seq(), job.entry.path);
    auto moved_on = [&](const std::vector<IndexDelta>& sent, const std::string& path) {
      return owner_->SourceMovedOn(sent, path);
    };
    for (const auto& e : report.skipped) NoteUnsent(e, &pending_, moved_on);
    for (const auto& e : sender_->TakeMetaErrors()) NoteMetaUnsent(e, &pending_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      counters_.files += report.files;
      counters_.file_bytes += report.file_bytes;
      counters_.delta_files += report.delta_files;
      counters_.delta_copied_bytes += report.delta_copied_bytes;
    }
    ++pending_ops_;
    if (sink_->bytes - committed_bytes_ >= kBatchBytes || pending_ops_ >= kBatchOps)
      return Commit(false);
    return Collect(kBatchesInFlight, false);
  }

  Status Commit(bool final) {
    GEOREP_RETURN_IF_ERROR(sender_->SendBarrier(owner_->options_.durable_batches));
    pending_.barrier = sender_->last_seq();
    marked_seq_ = pending_.barrier;
    in_flight_.push_back(std::exchange(pending_, {}));
    committed_bytes_ = sink_->bytes;
    pending_ops_ = 0;
    return Collect(final ? 0 : kBatchesInFlight, true);
  }

  // Hands the acknowledged batches to the pass; with `wait`, waits until at most `keep` are in
  // flight (30 minutes at most, as on stream 0).
  Status Collect(size_t keep, bool wait) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(30);
    int wait_ms = 0;
    for (;;) {
      if (stop_.load()) return Status::Unavailable("the stream stops");
      if (wait_ms > 0 || buffer_.empty()) GEOREP_RETURN_IF_ERROR(sink_->Drain(wait_ms));
      GEOREP_RETURN_IF_ERROR(ParseReplies(&replies_, &buffer_, &acked_seq_, &refused_));
      std::vector<SettledBatch> done;
      while (!in_flight_.empty() && in_flight_.front().barrier <= acked_seq_) {
        done.push_back(Resolve(in_flight_.front(), &refused_,
                               [&](const std::vector<IndexDelta>& sent, const std::string& path) {
                                 return owner_->SourceMovedOn(sent, path);
                               }));
        in_flight_.pop_front();
      }
      if (!done.empty()) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& b : done) settled_.push_back(std::move(b));
      }
      if (!wait || in_flight_.size() <= keep) return Status::Ok();
      if (std::chrono::steady_clock::now() > until)
        return Status::Unavailable("the agent did not acknowledge within 30 minutes");
      wait_ms = 1000;
    }
  }

  const Replicator* owner_;
  const int number_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<AgentLink> link_;
  std::string buffer_;  // replies read, not yet decoded
  std::unique_ptr<FdSink> sink_;
  std::unique_ptr<TreeSender> sender_;
  bool block_delta_ = false;
  std::thread thread_;
  std::atomic<uint64_t> wire_bytes_{0};
  // The thread's own.
  Decoder replies_;
  uint64_t acked_seq_ = 0;
  std::map<uint64_t, Refusal> refused_;  // by seq
  Batch pending_;                        // sent since the last Barrier
  uint64_t marked_seq_ = 0;              // where the last operation (or Barrier) ended
  size_t pending_ops_ = 0;
  uint64_t committed_bytes_ = 0;
  std::deque<Batch> in_flight_;
  // Shared with the pass (under mutex_).
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<FileJob> jobs_;
  uint64_t queued_bytes_ = 0;
  bool end_pass_ = false, pass_done_ = true;
  std::vector<SettledBatch> settled_;
  SendReport counters_;
  Status failure_ = Status::Ok();
};

}  // namespace georep::replication
