#include "replication/replicator.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "replication/change_journal.h"
#include "replication/wire.h"

namespace georep::replication {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Under(const std::string& path, const std::string& dir) {
  if (dir == "." || dir.empty()) return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

IndexEntry FromScan(const ScanEntry& e) {
  IndexEntry i;
  i.type = e.type;
  i.mode = e.mode & 07777;
  i.uid = e.uid;
  i.gid = e.gid;
  i.size = e.type == EntryType::kRegular ? e.size : 0;
  i.dev = e.dev;
  i.ino = e.ino;
  i.mtime_ns = e.mtime_ns;
  i.ctime_ns = e.ctime_ns;
  i.target = e.symlink_target;
  return i;
}

// The destination holds this content already (metadata aside).
bool SameContent(const IndexEntry& i, const ScanEntry& e) {
  return i.type == e.type && i.size == e.size && i.mtime_ns == e.mtime_ns && i.dev == e.dev &&
         i.ino == e.ino;
}

Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IOError("cannot write " + tmp + ": " + strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  // Not fsynced: the status is rewritten every few seconds, and a reader that finds it
  // damaged after a crash only waits for the next one.
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError("cannot sync " + tmp + ": " + strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IOError("cannot rename " + tmp + ": " + strerror(errno));
  return Status::Ok();
}

// A pass commits (Barrier, Ack, index updated) every kBatchOps operations or kBatchBytes
// sent, with up to kBatchesInFlight batches sent ahead of the agent's acknowledgements.
constexpr size_t kBatchOps = 1000;
constexpr uint64_t kBatchBytes = 16u << 20;
constexpr size_t kBatchesInFlight = 4;

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

}  // namespace

// ------------------------------------------------------------------ status

std::string StatusToJson(const WorkerStatus& s) {
  nlohmann::json j = {{"state", s.state},
                      {"crawl", s.crawl},
                      {"change_capture", s.change_capture},
                      {"last_synced_ms", s.last_synced_ms},
                      {"pending_entry", s.pending_entry},
                      {"pending_data", s.pending_data},
                      {"pending_meta", s.pending_meta},
                      {"failures", s.failures},
                      {"bytes_sent", s.bytes_sent},
                      {"files_sent", s.files_sent},
                      {"wire_bytes", s.wire_bytes},
                      {"delta_files", s.delta_files},
                      {"delta_copied_bytes", s.delta_copied_bytes},
                      {"throughput_bps", s.throughput_bps},
                      {"lag_ms", s.lag_ms},
                      {"pass_scanned", s.pass_scanned},
                      {"reason", s.reason},
                      {"updated_ms", s.updated_ms}};
  return j.dump() + "\n";
}

Result<WorkerStatus> StatusFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("worker status is not JSON");
  WorkerStatus s;
  auto str = [&](const char* k, std::string* v) {
    if (auto it = j.find(k); it != j.end() && it->is_string()) *v = it->get<std::string>();
  };
  auto num = [&](const char* k, auto* v) {
    if (auto it = j.find(k); it != j.end() && it->is_number())
      *v = it->get<std::remove_pointer_t<decltype(v)>>();
  };
  str("state", &s.state);
  str("crawl", &s.crawl);
  str("change_capture", &s.change_capture);
  str("reason", &s.reason);
  num("last_synced_ms", &s.last_synced_ms);
  num("pending_entry", &s.pending_entry);
  num("pending_data", &s.pending_data);
  num("pending_meta", &s.pending_meta);
  num("failures", &s.failures);
  num("bytes_sent", &s.bytes_sent);
  num("files_sent", &s.files_sent);
  num("wire_bytes", &s.wire_bytes);
  num("delta_files", &s.delta_files);
  num("delta_copied_bytes", &s.delta_copied_bytes);
  num("throughput_bps", &s.throughput_bps);
  num("lag_ms", &s.lag_ms);
  num("pass_scanned", &s.pass_scanned);
  num("updated_ms", &s.updated_ms);
  return s;
}

Result<WorkerStatus> ReadWorkerStatus(const std::string& state_dir) {
  std::ifstream in(state_dir + "/status.json");
  if (!in) return Status::NotFound("no worker status in " + state_dir);
  std::stringstream ss;
  ss << in.rdbuf();
  return StatusFromJson(ss.str());
}

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

namespace {

// Reads the replies in `buffer`: Acks advance `acked`, refusals go to `refused` (by seq).
template <typename Refusals>
Status ParseReplies(Decoder* decoder, std::string* buffer, uint64_t* acked, Refusals* refused) {
  std::vector<Message> in;
  GEOREP_RETURN_IF_ERROR(decoder->Feed(*buffer, &in));
  buffer->clear();
  for (const Message& m : in) {
    if (const auto* e = std::get_if<Error>(&m)) {
      if (e->seq == 0) return Status::Unavailable("the agent failed: " + e->message);
      (*refused)[e->seq] = {e->message, e->code == ErrorCode::kSourceChanged};
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
};

// An acknowledged batch, ready for the index: its deltas, except for `refused` (failures, with
// why) and `resend` (files rewritten while the agent copied them: sent again, not failures).
struct SettledBatch {
  std::vector<IndexDelta> deltas;
  std::vector<std::pair<std::string, std::string>> refused;
  std::set<std::string> resend;
};

// Matches the agent's refusals up to `b`'s Barrier with the operations of `b` (and takes them
// from `refused`). `moved_on(deltas, path)`: whether the source file is no longer what was sent.
template <typename Refusals, typename MovedOn>
SettledBatch Resolve(Batch& b, Refusals* refused, MovedOn moved_on) {
  SettledBatch s;
  s.refused = std::move(b.refused);
  for (auto f = refused->begin(); f != refused->end() && f->first <= b.barrier;) {
    if (auto op = b.op_path.lower_bound(f->first); op != b.op_path.end()) {
      // A file rewritten while the agent copied it is sent again once its change is seen (the
      // rewrite queued a change event); it is a failure only if it still looks as sent.
      if (f->second.source_changed && moved_on(b.deltas, op->second))
        s.resend.insert(op->second);
      else
        s.refused.emplace_back(op->second, f->second.message);
    }
    f = refused->erase(f);
  }
  s.deltas = std::move(b.deltas);
  return s;
}

// A file for an extra stream, and what the index records for it once it is applied.
struct FileJob {
  ScanEntry entry;
  IndexEntry recorded;
  std::optional<BlockSignature> basis;  // the destination's version (block delta)
  uint64_t bytes = 0;
};

constexpr size_t kStreamQueueFiles = 256;  // files waiting for one extra stream, at most

}  // namespace

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
    pending_.op_path[sender_->last_seq()] = job.entry.path;
    for (auto& e : report.skipped) pending_.refused.emplace_back(e.path, e.status.message());
    for (auto& e : sender_->TakeMetaErrors())
      pending_.refused.emplace_back(e.path, e.status.message());
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

Replicator::Replicator(ReplicatorOptions options) : options_(std::move(options)) {}
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

Status WriteWorkerStatus(const std::string& state_dir, const WorkerStatus& status) {
  return WriteFileAtomically(state_dir + "/status.json", StatusToJson(status));
}

void Replicator::WriteStatus() {
  status_.updated_ms = NowMs();
  if (sink_) status_.wire_bytes = WireBytes();
  const std::string json = StatusToJson(status_);
  (void)WriteFileAtomically(options_.state_dir + "/status.json", json);
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
                             bool* source_copy, bool* block_delta) const {
  GEOREP_RETURN_IF_ERROR(sender->SendHello(kCapabilitiesSupported, "georep worker"));
  GEOREP_RETURN_IF_ERROR(sender->Flush());
  Decoder decoder;
  std::vector<Message> in;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (in.empty()) {
    if (std::chrono::steady_clock::now() > until)
      return Status::Unavailable("the agent did not answer within 60 s: " + link->ErrorTail());
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
  rate_ = std::make_unique<RateLimit>(options_.bandwidth_limit);
  GEOREP_ASSIGN_OR_RETURN(link_,
                          SpawnAgent(options_.agent_argv, options_.state_dir + "/agent.log"));
  read_buffer_.clear();
  sink_ = std::make_unique<FdSink>(link_->write_fd(), link_->read_fd(), &read_buffer_, rate_.get());
  SenderOptions so;
  so.compress = options_.compress;
  so.send_xattrs = options_.send_xattrs;
  GEOREP_ASSIGN_OR_RETURN(sender_, TreeSender::Open(options_.source, sink_.get(), so));
  bool source_copy = false;
  GEOREP_RETURN_IF_ERROR(Handshake(link_.get(), sink_.get(), &read_buffer_, sender_.get(),
                                   &source_copy, &block_delta_));
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
         st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec != e.mtime_ns ||
         st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec != e.ctime_ns;
}

Status Replicator::ReadReplies(int wait_ms) {
  if (wait_ms > 0 || read_buffer_.empty()) {
    Status d = sink_->Drain(wait_ms);
    if (!d.ok()) return Status::Unavailable(d.message() + ": " + link_->ErrorTail());
  }
  return ParseReplies(replies_.get(), &read_buffer_, &acked_seq_, &refused_);
}

// One pass: the changed part of the source (or all of it) against the index.
Status Replicator::Pass(const PassScope& changed, bool full) {
  const int64_t started = NowMs();
  const uint64_t bytes_before = WireBytes();
  // A failed pass may have left files in an extra stream: this worker restarts instead.
  for (auto& stream : streams_)
    if (!stream->Idle())
      return Status::Unavailable("a transfer stream still holds files of a failed pass");
  // The source is opened once; everything in it is looked at beneath it, never through a
  // symlink. A source that is gone fails the pass: it never reads as empty (which would
  // delete everything at the destination).
  UniqueFd root(::open(options_.source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "cannot open source root", options_.source);
  // Without xattrs: ctime tells whether they changed, and the sender reads them for the few
  // entries it sends (two system calls per entry saved on every scan).
  ScanOptions scan_options;
  scan_options.read_xattrs = false;
  // The subtrees of an incremental pass are mostly small: on this thread.
  if (!full) scan_options.threads = 1;

  // `scopes`: looked at whole -- an index entry beneath one that the scan does not see is
  // gone. Entries looked at alone (an incremental pass's usual case) are only compared.
  std::vector<std::string> subtrees;
  if (full) subtrees.push_back(".");
  std::vector<ScanEntry> alone;
  if (!full) {
    subtrees.assign(changed.subtrees.begin(), changed.subtrees.end());
    // Each changed entry, and its directory: the change moved the directory's mtime.
    std::set<std::string> names;
    for (const std::string& p : changed.entries) {
      names.insert(p);
      if (p != ".") {
        const auto slash = p.rfind('/');
        names.insert(slash == std::string::npos ? "." : p.substr(0, slash));
      }
    }
    for (const std::string& p : names) {
      auto r = ScanBeneath(root.get(), p, false, scan_options);
      if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
        subtrees.push_back(p);  // gone: so is everything the index has beneath it
        continue;
      }
      if (!r.ok()) {
        subtrees.push_back(p);  // unreadable: reported, and nothing beneath it deleted
        continue;
      }
      ScanEntry& e = r->entries.front();
      auto known = index_.find(p);
      const bool was_dir = known != index_.end() && known->second.type == EntryType::kDirectory;
      const bool is_dir = e.type == EntryType::kDirectory;
      if ((was_dir || is_dir) &&
          !(was_dir && is_dir && known->second.ino == e.ino && known->second.dev == e.dev)) {
        subtrees.push_back(p);  // a directory appeared or was replaced: all of it
      } else if (e.type == EntryType::kRegular && e.nlink > 1 && p != ".") {
        // A file with other links: its directory whole, so that links there are joined (a
        // link elsewhere is joined by the full pass that a change of it asks for).
        const auto slash = p.rfind('/');
        subtrees.push_back(slash == std::string::npos ? "." : p.substr(0, slash));
      } else {
        alone.push_back(std::move(e));
      }
    }
  }
  // Subtrees inside another are covered by it (a directory sorts before what is inside it).
  std::sort(subtrees.begin(), subtrees.end());
  std::vector<std::string> scopes;
  std::set<std::string> scope_set;
  auto covered = [&](const std::string& path) {
    if (scope_set.count(".") || scope_set.count(path)) return true;
    for (auto pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1))
      if (scope_set.count(path.substr(0, pos))) return true;
    return false;
  };
  for (const auto& r : subtrees)
    if (!covered(r)) {
      scopes.push_back(r);
      scope_set.insert(r);
    }
  if (scope_set.count(".")) scopes = {"."};

  std::vector<ScanEntry> entries;
  std::vector<ScanError> unreadable;  // neither sent nor deleted: unknown this pass
  for (const auto& scope : scopes) {
    auto scanned = ScanBeneath(root.get(), scope, true, scan_options);
    if (!scanned.ok()) {
      if (scanned.status().code() == StatusCode::kNotFound && scope != ".")
        continue;  // gone: what the index has beneath it is deleted
      unreadable.push_back({scope, scanned.status()});
      continue;
    }
    for (auto& e : scanned->entries)
      if (!Excluded(e.path)) entries.push_back(std::move(e));
    for (auto& e : scanned->errors) unreadable.push_back(std::move(e));
  }
  if (!alone.empty()) {
    for (auto& e : alone)
      if (!covered(e.path) && !Excluded(e.path)) entries.push_back(std::move(e));
    // Parents before children, as a scan delivers them.
    std::sort(entries.begin(), entries.end(),
              [](const ScanEntry& a, const ScanEntry& b) { return a.path < b.path; });
  }
  status_.pass_scanned = entries.size();
  auto unknown = [&](const std::string& path) {
    for (const auto& e : unreadable)
      if (Under(path, e.path)) return true;
    return false;
  };
  // Excluded directories' contents too.
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const ScanEntry& e) {
                                 for (auto pos = e.path.find('/'); pos != std::string::npos;
                                      pos = e.path.find('/', pos + 1))
                                   if (Excluded(e.path.substr(0, pos))) return true;
                                 return false;
                               }),
                entries.end());

  // `next`: the index as it will be once everything this pass sends is applied. Each change
  // of it is also recorded as a delta of the batch being sent; a batch's deltas reach index_
  // (and the index log) only when the agent acknowledges the batch's Barrier.
  SyncedIndex next = index_;
  std::vector<IndexDelta> deltas;
  // Directories whose metadata is sent at the end of the pass (their mtime changes while
  // their contents arrive): recorded as not current (mtime -1) until their SetMeta is sent.
  std::set<std::string> provisional;
  auto put = [&](const std::string& path, const IndexEntry& entry, bool final_meta_pending) {
    next[path] = entry;
    IndexEntry recorded = entry;
    if (final_meta_pending) recorded.mtime_ns = -1;
    deltas.push_back({path, std::move(recorded)});
  };
  auto erase = [&](const std::string& path) {
    next.erase(path);
    deltas.push_back({path, std::nullopt});
  };
  std::set<std::string> seen;
  // Inodes that left the index paths in scope: rename candidates.
  std::set<std::string> present;
  for (const auto& e : entries) present.insert(e.path);
  std::map<std::pair<uint64_t, uint64_t>, std::string> gone;
  for (const auto& scope : scopes) {
    for (auto it = index_.lower_bound(scope == "." ? "" : scope); it != index_.end(); ++it) {
      if (!Under(it->first, scope)) {
        if (scope != "." && it->first > scope + "/\xff") break;
        continue;
      }
      if (!present.count(it->first)) gone[{it->second.dev, it->second.ino}] = it->first;
    }
  }

  std::map<uint64_t, std::string> op_path;  // last seq of each operation -> its path
  SendReport report;
  uint64_t data_ops = 0, entry_ops = 0, meta_ops = 0;
  std::vector<const ScanEntry*> dirs_meta;  // their SetMeta comes after all their contents
  // Directories whose entries change at the destination: that changes their mtime there, so
  // their SetMeta is sent again at the end.
  std::set<std::string> touched;
  auto touch = [&](const std::string& path) {
    const auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (provisional.insert(dir).second) {
      if (auto it = next.find(dir); it != next.end()) {
        IndexEntry pending = it->second;
        pending.mtime_ns = -1;
        deltas.push_back({dir, std::move(pending)});
      }
    }
    touched.insert(std::move(dir));
  };

  // Files the capture saw written, by inode: a write through one link (or before a rename) is a
  // change of every path of that inode, whatever size and mtime say.
  std::set<std::pair<uint64_t, uint64_t>> written;
  for (const ScanEntry& e : entries)
    if (written_.count(e.path)) written.insert({e.dev, e.ino});
  for (const auto& p : written_)
    if (auto it = index_.find(p); it != index_.end())
      written.insert({it->second.dev, it->second.ino});

  // Hard links: a file the destination already holds for an inode is what its new or changed
  // links link to.
  sender_->ForgetLinks();
  for (const ScanEntry& e : entries) {
    if (e.type != EntryType::kRegular || e.nlink < 2 || written.count({e.dev, e.ino})) continue;
    auto it = index_.find(e.path);
    if (it != index_.end() && SameContent(it->second, e))
      sender_->RememberLink(e.dev, e.ino, e.path);
  }
  bool linked_change = false;  // a multi-link file changed: its other links may be elsewhere
  std::set<std::pair<uint64_t, uint64_t>> relink_next;  // ... which the next full pass rejoins

  // Batches in flight: sent up to their Barrier, not yet acknowledged. The worker keeps
  // sending while the agent applies (a few batches ahead at most), so neither waits for the
  // other; a restart sends again at most what was in flight.
  std::deque<Batch> in_flight;
  uint64_t settled_batches = 0;  // of stream 0, in this pass
  // Files for the extra streams whose directory stream 0 creates (or moves into place) in this
  // pass: they wait for its acknowledgement (see `release` below).
  std::vector<FileJob> waiting;
  size_t waiting_files = 0;    // since stream 0's last commit
  uint64_t waiting_bytes = 0;  // ...
  // Files whose directory never arrived (refused): sent again next pass.
  std::vector<std::pair<std::string, std::string>> orphaned;
  std::vector<std::pair<std::string, std::string>> refused_all;
  size_t skipped_done = 0;
  uint64_t committed_bytes = sink_->bytes;
  size_t ops_since_commit = 0;
  // A batch acknowledged (on any stream): its deltas go to index_ and the index log -- except
  // for what the agent refused or could not be sent, which stays as the index had it and is
  // marked to be sent again (never counted as synced).
  auto apply = [&](SettledBatch b) -> Status {
    std::set<std::string> refused_paths = std::move(b.resend);
    for (const auto& r : b.refused) refused_paths.insert(r.first);
    std::vector<IndexDelta> applied;
    applied.reserve(b.deltas.size() + refused_paths.size());
    for (auto& d : b.deltas)
      if (!refused_paths.count(d.path)) applied.push_back(std::move(d));
    for (const auto& p : refused_paths) {
      if (auto old = index_.find(p); old != index_.end()) {
        IndexEntry again = old->second;
        again.mtime_ns = -1;  // differs from anything: sent again next pass
        applied.push_back({p, again});
      } else {
        applied.push_back({p, std::nullopt});
      }
    }
    for (const auto& d : applied) ApplyDelta(d, &index_);
    refused_all.insert(refused_all.end(), b.refused.begin(), b.refused.end());
    // The first refusal is the cause (a file that did not fit); later ones often follow it.
    if (!refused_all.empty()) {
      status_.reason = refused_all.front().first;
      status_.reason += ": ";
      status_.reason += refused_all.front().second;
    }
    return index_store_->Append(applied, index_);
  };
  auto settle = [&](Batch& b) -> Status {
    ++settled_batches;
    return apply(
        Resolve(b, &refused_, [&](const std::vector<IndexDelta>& sent, const std::string& path) {
          return SourceMovedOn(sent, path);
        }));
  };
  // The extra streams' acknowledged batches: settled here, on the thread that owns index_.
  auto take_streams = [&]() -> Status {
    for (auto& stream : streams_) {
      std::vector<SettledBatch> done;
      Status failed = stream->Take(&done);
      for (auto& b : done) GEOREP_RETURN_IF_ERROR(apply(std::move(b)));
      GEOREP_RETURN_IF_ERROR(failed);
    }
    return Status::Ok();
  };
  // Settles every acknowledged batch; with `wait`, waits until at most `keep` are in flight.
  auto collect = [&](size_t keep, bool wait) -> Status {
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(30);
    for (;;) {
      // A failed read may have lost events: the next pass is a full one (the loop between
      // passes reports the failure if it lasts).
      if (!DrainChanges().ok()) changes_.overflow = true;
      GEOREP_RETURN_IF_ERROR(ReadReplies(0));
      while (!in_flight.empty() && in_flight.front().barrier <= acked_seq_) {
        GEOREP_RETURN_IF_ERROR(settle(in_flight.front()));
        in_flight.pop_front();
      }
      GEOREP_RETURN_IF_ERROR(take_streams());
      if (!wait || in_flight.size() <= keep) return Status::Ok();
      if (std::chrono::steady_clock::now() > until)
        return Status::Unavailable("the agent did not acknowledge within 30 minutes");
      GEOREP_RETURN_IF_ERROR(ReadReplies(1000));
    }
  };
  auto commit = [&](bool final) -> Status {
    GEOREP_RETURN_IF_ERROR(sender_->SendBarrier(options_.durable_batches));
    Batch b;
    b.barrier = sender_->last_seq();
    b.deltas = std::move(deltas);
    deltas.clear();
    b.op_path = std::move(op_path);
    op_path.clear();
    for (auto& e : sender_->TakeMetaErrors()) b.refused.emplace_back(e.path, e.status.message());
    for (; skipped_done < report.skipped.size(); ++skipped_done)
      b.refused.emplace_back(report.skipped[skipped_done].path,
                             report.skipped[skipped_done].status.message());
    if (final) {
      for (const auto& e : unreadable) b.refused.emplace_back(e.path, e.status.message());
      b.refused.insert(b.refused.end(), orphaned.begin(), orphaned.end());
    }
    in_flight.push_back(std::move(b));
    committed_bytes = sink_->bytes;
    ops_since_commit = 0;
    waiting_files = 0;
    waiting_bytes = 0;
    return collect(final ? 0 : kBatchesInFlight, true);
  };
  // A file for an extra stream goes to the one with the fewest bytes queued. Stream 0 takes
  // none of them: it carries everything else in order, and this thread keeps scanning and
  // feeding the others instead of blocking on one pipe with a large file.
  auto dispatch = [&](FileJob& job) -> Status {
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(30);
    for (;;) {
      ContentStream* best = nullptr;
      uint64_t least = UINT64_MAX;
      for (auto& stream : streams_)
        if (const uint64_t q = stream->queued_bytes(); q < least) {
          least = q;
          best = stream.get();
        }
      bool queued = false;
      GEOREP_RETURN_IF_ERROR(best->Push(job, 100, &queued));
      if (queued) return Status::Ok();
      GEOREP_RETURN_IF_ERROR(collect(kBatchesInFlight, false));
      if (std::chrono::steady_clock::now() > until)
        return Status::Unavailable("the transfer streams took no file for 30 minutes");
    }
  };
  // Before directory metadata goes out: every extra stream's files are applied (one landing
  // later would move its directory's mtime).
  auto finish_streams = [&]() -> Status {
    for (auto& stream : streams_) stream->EndPass();
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(30);
    for (auto& stream : streams_)
      while (!stream->WaitPassDone(100)) {
        GEOREP_RETURN_IF_ERROR(collect(kBatchesInFlight, false));
        if (std::chrono::steady_clock::now() > until)
          return Status::Unavailable("a transfer stream did not finish within 30 minutes");
      }
    return take_streams();
  };
  // Directories of this pass by path, for the extra streams' parent check.
  std::map<std::string, const ScanEntry*> scanned_dirs;
  if (!streams_.empty())
    for (const ScanEntry& e : entries)
      if (e.type == EntryType::kDirectory) scanned_dirs[e.path] = &e;
  // Whether the destination has acknowledged `path`'s directory as the one scanned now: then
  // stream 0 neither creates, moves nor removes it during this pass (a present path is never
  // a rename source), and a file in it may travel on another stream.
  auto same_directory = [&](const SyncedIndex& index, const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    auto scanned = scanned_dirs.find(dir);
    auto known = index.find(dir);
    return scanned != scanned_dirs.end() && known != index.end() &&
           known->second.type == EntryType::kDirectory &&
           known->second.dev == scanned->second->dev && known->second.ino == scanned->second->ino;
  };
  // The root is always there (the agent opened it), and nothing moves or removes it.
  auto parent_acknowledged = [&](const std::string& path) {
    return path.find('/') == std::string::npos || same_directory(index_, path);
  };
  // The waiting files whose directory is acknowledged now go to the extra streams -- so that a
  // new tree's files travel in parallel too. Stream 0 commits every kStreamQueueFiles of them
  // (or kBatchBytes) to let them go.
  uint64_t released_at = 0;  // settled_batches at the last release
  auto release = [&]() -> Status {
    released_at = settled_batches;
    std::vector<FileJob> still;
    still.reserve(waiting.size());
    for (auto& job : waiting) {
      if (parent_acknowledged(job.entry.path)) {
        GEOREP_RETURN_IF_ERROR(dispatch(job));
      } else {
        still.push_back(std::move(job));
      }
    }
    waiting = std::move(still);
    return Status::Ok();
  };
  auto mark = [&](const std::string& path) -> Status {
    op_path[sender_->last_seq()] = path;
    if (sink_->bytes - committed_bytes >= kBatchBytes || ++ops_since_commit >= kBatchOps)
      return commit(false);
    return Status::Ok();
  };
  size_t looked_at = 0;
  for (const ScanEntry& e : entries) {
    // Files are waiting for stream 0's Acks: read them now and then, not only at its commits.
    if (!waiting.empty() && ++looked_at % 64 == 0)
      GEOREP_RETURN_IF_ERROR(collect(kBatchesInFlight, false));
    if (!waiting.empty() && settled_batches != released_at) GEOREP_RETURN_IF_ERROR(release());
    seen.insert(e.path);
    const IndexEntry now = FromScan(e);
    auto it = next.find(e.path);
    if (e.path == ".") {
      if (it == next.end() || !(it->second == now)) {
        dirs_meta.push_back(&e);
        put(".", now, true);
        provisional.insert(".");
      }
      continue;
    }
    if (it == next.end()) {
      auto g = gone.find({e.dev, e.ino});
      if (g != gone.end() && next.count(g->second) && next[g->second].type == e.type &&
          !written.count({e.dev, e.ino}) &&
          // An inode number the file system reused for a new symlink is not a move.
          (e.type != EntryType::kSymlink || next[g->second].target == e.symlink_target) &&
          // A link of an inode already sent under another path links to that one instead.
          !(e.type == EntryType::kRegular && e.nlink > 1 && sender_->KnowsLink(e.dev, e.ino)) &&
          (e.type != EntryType::kRegular ||
           (next[g->second].size == e.size && next[g->second].mtime_ns == e.mtime_ns))) {
        // Moved: rename at the destination, and its index entries (a directory's whole
        // subtree) move with it.
        const std::string from = g->second;
        gone.erase(g);
        GEOREP_RETURN_IF_ERROR(sender_->SendRename(from, e.path));
        touch(from);
        touch(e.path);
        GEOREP_RETURN_IF_ERROR(mark(e.path));
        ++entry_ops;
        // The moved file is what its other (new) links link to.
        if (e.type == EntryType::kRegular && e.nlink > 1)
          sender_->RememberLink(e.dev, e.ino, e.path);
        std::vector<std::pair<std::string, IndexEntry>> moved;
        for (auto m = next.lower_bound(from); m != next.end() && Under(m->first, from);) {
          std::string to = e.path + m->first.substr(from.size());
          if (provisional.count(m->first)) provisional.insert(to);
          moved.emplace_back(std::move(to), m->second);
          deltas.push_back({m->first, std::nullopt});
          m = next.erase(m);
        }
        for (auto& [p, ie] : moved) put(p, ie, provisional.count(p) != 0);
        it = next.find(e.path);
        if (!(it->second == now)) {
          if (e.type == EntryType::kDirectory) {
            dirs_meta.push_back(&e);
            put(e.path, now, true);
            provisional.insert(e.path);
          } else {
            GEOREP_RETURN_IF_ERROR(sender_->SendMeta(e));
            put(e.path, now, false);
            GEOREP_RETURN_IF_ERROR(mark(e.path));
            ++meta_ops;
          }
        }
        continue;
      }
    }
    const bool is_new = it == next.end() || it->second.type != e.type;
    const bool content =
        !is_new && ((e.type == EntryType::kRegular &&
                     (it->second.size != e.size || it->second.mtime_ns != e.mtime_ns ||
                      it->second.ino != e.ino || written.count({e.dev, e.ino}))) ||
                    (e.type == EntryType::kSymlink && it->second.target != e.symlink_target));
    // A full pass after a multi-link file changed: every path of that inode is joined again to
    // one (the destination may hold separate copies, e.g. after a directory moved).
    if (full && !is_new && !content && e.type == EntryType::kRegular && e.nlink > 1 &&
        relink_.count({e.dev, e.ino})) {
      const std::string* canonical = sender_->LinkFor(e.dev, e.ino);
      if (canonical == nullptr) {
        sender_->RememberLink(e.dev, e.ino, e.path);
      } else if (*canonical != e.path) {
        GEOREP_RETURN_IF_ERROR(sender_->SendHardlink(*canonical, e.path));
        touch(e.path);
        GEOREP_RETURN_IF_ERROR(mark(e.path));
        ++entry_ops;
      }
    }
    if (is_new || content) {
      if (e.type == EntryType::kRegular && e.nlink > 1) {
        linked_change = true;
        relink_next.insert({e.dev, e.ino});
      }
      // A large file the destination holds an older version of: its signature (kept when
      // that version was sent) lets only the changed blocks travel.
      BlockSignature basis, fresh;
      std::unique_lock<std::mutex> signatures_lock(signatures_mutex_);
      const bool have_basis =
          block_delta_ && !is_new && e.type == EntryType::kRegular && e.size >= kDeltaMinFileSize &&
          signatures_->Find(e.path, it->second.size, it->second.mtime_ns, &basis);
      signatures_lock.unlock();
      // Contents that cannot race with stream 0 (a single link, new or a content change of a
      // regular file, in a directory the destination has acknowledged) may go on another.
      // A file in a directory stream 0 has just created or moved into place waits for it.
      const bool acknowledged = parent_acknowledged(e.path);
      if (!streams_.empty() && e.type == EntryType::kRegular && e.nlink == 1 &&
          (it == next.end() || it->second.type == EntryType::kRegular) &&
          (acknowledged || same_directory(next, e.path))) {
        FileJob job;
        job.entry = e;
        job.recorded = now;
        if (have_basis) job.basis = std::move(basis);
        job.bytes = e.size;
        next[e.path] = now;  // its delta travels with the other stream's batch
        touch(e.path);
        ++data_ops;
        if (acknowledged) {
          GEOREP_RETURN_IF_ERROR(dispatch(job));
        } else {
          ++waiting_files;
          waiting_bytes += job.bytes;
          waiting.push_back(std::move(job));
          if (ops_since_commit > 0 &&
              (waiting_files >= kStreamQueueFiles || waiting_bytes >= kBatchBytes))
            GEOREP_RETURN_IF_ERROR(commit(false));
        }
        continue;
      }
      GEOREP_RETURN_IF_ERROR(
          sender_->SendEntry(e, &report, have_basis ? &basis : nullptr,
                             block_delta_ && e.type == EntryType::kRegular ? &fresh : nullptr));
      signatures_lock.lock();
      if (fresh.block_size != 0) {
        (void)signatures_->Save(e.path, fresh);  // lost: the next change goes whole
      } else if (have_basis) {
        signatures_->Forget(e.path);
      }
      signatures_lock.unlock();
      touch(e.path);
      const bool dir = e.type == EntryType::kDirectory;
      put(e.path, now, dir);
      if (dir) {
        provisional.insert(e.path);
        dirs_meta.push_back(&e);
      }
      GEOREP_RETURN_IF_ERROR(mark(e.path));
      if (e.type == EntryType::kRegular)
        ++data_ops;
      else
        ++entry_ops;
    } else if (!(it->second == now)) {
      if (e.type == EntryType::kDirectory) {
        dirs_meta.push_back(&e);
        put(e.path, now, true);
        provisional.insert(e.path);
      } else {
        GEOREP_RETURN_IF_ERROR(sender_->SendMeta(e));
        put(e.path, now, false);
        GEOREP_RETURN_IF_ERROR(mark(e.path));
        ++meta_ops;
      }
    }
  }
  // Deletes, deepest first.
  if (!options_.ignore_deletes) {
    std::vector<std::string> doomed;
    for (const auto& scope : scopes)
      for (auto it = next.lower_bound(scope == "." ? "" : scope); it != next.end(); ++it) {
        if (!Under(it->first, scope)) {
          if (scope != "." && it->first > scope + "/\xff") break;
          continue;
        }
        if (it->first != "." && !seen.count(it->first) && !unknown(it->first))
          doomed.push_back(it->first);
      }
    std::sort(doomed.rbegin(), doomed.rend());
    for (const auto& p : doomed) {
      const bool dir = next[p].type == EntryType::kDirectory;
      GEOREP_RETURN_IF_ERROR(dir ? sender_->SendRmdir(p) : sender_->SendUnlink(p));
      touch(p);
      erase(p);
      GEOREP_RETURN_IF_ERROR(mark(p));
      ++entry_ops;
    }
  }
  // The files still waiting: once everything stream 0 sent is acknowledged, their directories
  // are there (or were refused: then so are they, and they are sent again next pass).
  if (!waiting.empty()) {
    if (ops_since_commit > 0) GEOREP_RETURN_IF_ERROR(commit(false));
    GEOREP_RETURN_IF_ERROR(collect(0, true));
    GEOREP_RETURN_IF_ERROR(release());
    for (const FileJob& job : waiting)
      orphaned.emplace_back(job.entry.path, "its directory was not created at the destination");
    waiting.clear();
  }
  GEOREP_RETURN_IF_ERROR(finish_streams());
  {
    std::set<std::string> queued;
    for (const ScanEntry* d : dirs_meta) queued.insert(d->path);
    for (const ScanEntry& e : entries)
      if (e.type == EntryType::kDirectory && touched.count(e.path) && !queued.count(e.path))
        dirs_meta.push_back(&e);
  }
  for (const ScanEntry* d : dirs_meta) {
    GEOREP_RETURN_IF_ERROR(sender_->SendDirectoryMeta(*d));
    put(d->path, FromScan(*d), false);
    GEOREP_RETURN_IF_ERROR(mark(d->path));
  }
  status_.pending_entry = entry_ops;
  status_.pending_data = data_ops;
  status_.pending_meta = meta_ops;
  if (entry_ops + data_ops + meta_ops > 0) WriteStatus();
  GEOREP_RETURN_IF_ERROR(commit(true));
  const std::vector<std::pair<std::string, std::string>>& refused = refused_all;
  // The changed file's links outside this pass's directories, or moved with a directory: a
  // full pass rejoins them.
  if (full) relink_.clear();
  relink_.insert(relink_next.begin(), relink_next.end());
  if (linked_change) want_full_ = true;
  status_.failures = refused.size();
  const int64_t took = std::max<int64_t>(1, NowMs() - started);
  for (auto& stream : streams_) {
    const SendReport sent = stream->TakeCounters();
    report.files += sent.files;
    report.file_bytes += sent.file_bytes;
    report.delta_files += sent.delta_files;
    report.delta_copied_bytes += sent.delta_copied_bytes;
  }
  status_.bytes_sent += report.file_bytes;
  status_.files_sent += report.files;
  const uint64_t wire_now = WireBytes();
  status_.wire_bytes = wire_now;
  status_.delta_files += report.delta_files;
  status_.delta_copied_bytes += report.delta_copied_bytes;
  status_.throughput_bps =
      static_cast<double>(wire_now - bytes_before) * 1000.0 / static_cast<double>(took);
  status_.pending_entry = status_.pending_data = status_.pending_meta = 0;
  if (refused.empty()) {
    status_.last_synced_ms = started;
    status_.reason.clear();
  }
  WriteStatus();
  return refused.empty()
             ? Status::Ok()
             : Status::IOError(std::to_string(refused.size()) +
                               " changes could not be applied; first: " + status_.reason);
}

Status Replicator::RunOnce() {
  Status result = [&]() -> Status {
    index_store_ = std::make_unique<IndexStore>(options_.state_dir);
    GEOREP_ASSIGN_OR_RETURN(index_, index_store_->Load());
    GEOREP_RETURN_IF_ERROR(Connect());
    spdlog::info("msg=\"connected to the agent\" source={} once=true", LogValue(options_.source));
    status_.state = "Active";
    status_.crawl = "Hybrid Crawl";
    WriteStatus();
    const WorkerStatus before = status_;
    const int64_t started = NowMs();
    Status st = Pass({}, true);
    LogPass(true, 1, 0, before, status_, NowMs() - started, st);
    Status closed = CloseStreams(30);
    return st.ok() ? closed : st;
  }();
  if (!result.ok()) spdlog::error("msg=\"pass failed\" error={}", LogValue(result.message()));
  return result;
}

Status Replicator::Run() {
  auto fail = [&](const Status& why) {
    status_.state = "Faulty";
    status_.reason = why.message();
    WriteStatus();
    spdlog::error("msg=\"worker stops: Faulty\" reason={}", LogValue(why.message()));
    streams_.clear();
    if (link_) (void)link_->Close(5);
    return why;
  };
  spdlog::info("msg=\"worker starts\" source={}", LogValue(options_.source));
  index_store_ = std::make_unique<IndexStore>(options_.state_dir);
  auto loaded = index_store_->Load();
  if (!loaded.ok()) return fail(loaded.status());
  index_ = std::move(*loaded);
  status_.state = "Initializing";
  WriteStatus();
  if (Status c = Connect(); !c.ok()) {
    // The agent (or the ssh in front of it) did not answer: say where the problem is.
    return fail(c.code() == StatusCode::kUnavailable
                    ? Status::Unavailable("cannot reach the destination: " + c.message())
                    : c);
  }
  spdlog::info("msg=\"connected to the agent\"");

  // Watches first, then the crawl: nothing changed during the crawl is missed.
  auto watcher = MakeChangeWatcher(options_.source, options_.change_capture);
  if (!watcher.ok()) return fail(watcher.status());
  watcher_ = std::move(watcher).value();
  status_.change_capture = watcher_->kind();
  spdlog::info("msg=\"watching for changes\" change_capture={}", watcher_->kind());

  // History Crawl: the changes journaled before the last stop, which a crawl alone could miss
  // (a rewrite within one clock tick, same size), go first.
  ChangeJournal journal(options_.state_dir);
  auto replay = journal.Load();
  if (!replay.ok()) return fail(replay.status());
  status_.state = "Active";
  if (!replay->empty()) {
    status_.crawl = "History Crawl";
    WriteStatus();
    written_ = replay->written;
    PassScope scope{replay->directories, replay->entries};
    scope.entries.insert(replay->written.begin(), replay->written.end());
    spdlog::info(
        "msg=\"History Crawl: replaying the journal\" directories={} entries={} written={}",
        replay->directories.size(), replay->entries.size(), replay->written.size());
    Status history = Pass(scope, false);
    if (!history.ok() && history.code() != StatusCode::kIOError) return fail(history);
    if (history.ok()) {
      written_.clear();
      if (Status c = journal.Clear(); !c.ok()) return fail(c);
    }
  }
  status_.crawl = "Hybrid Crawl";
  WriteStatus();
  WorkerStatus before = status_;
  int64_t pass_started = NowMs();
  Status first = Pass({}, true);
  LogPass(true, 1, 0, before, status_, NowMs() - pass_started, first);
  if (!first.ok() && first.code() != StatusCode::kIOError) return fail(first);
  if (first.ok()) {
    written_.clear();
    if (Status c = journal.Clear(); !c.ok()) return fail(c);
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

  if (!first.ok()) changes_.overflow = true;  // failures: retried by a full pass
  int64_t last_full = NowMs();
  while (!stop_.load()) {
    // Sleep until the capture has news or the waiting changes are due (at most 200 ms, so
    // that stop requests, the status heartbeat and the rescan are seen in time).
    int64_t wait_ms = 200;
    if (!changes_.empty()) {
      const int64_t t = NowMs();
      wait_ms = std::min({wait_ms, last_change_ms_ + options_.settle_ms - t,
                          first_change_ms_ + options_.max_delay_ms - t});
      wait_ms = std::max<int64_t>(wait_ms, 1);
    }
    // The agent is watched between passes too: a destination that went away (its ssh
    // connection ended) is Faulty now, not at the next change.
    pollfd fds[2] = {{watcher_->fd(), POLLIN, 0}, {link_->read_fd(), POLLIN, 0}};
    (void)::poll(fds, 2, static_cast<int>(wait_ms));
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (Status d = sink_->Drain(); !d.ok())
        return fail(Status::Unavailable("lost the destination: " + d.message() + ": " +
                                        link_->ErrorTail()));
    }
    for (auto& stream : streams_)
      if (Status f = stream->Failure(); !f.ok())
        return fail(Status::Unavailable("lost the destination: " + f.message()));
    if (Status d = DrainChanges(); !d.ok()) return fail(d);
    const int64_t now = NowMs();
    status_.lag_ms = first_change_ms_ ? now - first_change_ms_ : 0;
    if (now - status_.updated_ms >= 5000) WriteStatus();  // alive, and the lag so far
    const bool rescan = options_.rescan_interval_s > 0 &&
                        now - last_full >= int64_t{options_.rescan_interval_s} * 1000;
    const bool dirty = !changes_.empty();
    const bool settled = dirty && now - last_change_ms_ >= options_.settle_ms;
    const bool overdue = dirty && now - first_change_ms_ >= options_.max_delay_ms;
    if (!(settled || overdue || changes_.overflow || rescan)) continue;
    const bool full = changes_.overflow || rescan;
    // What the capture saw goes to this pass; what it sees meanwhile (drained at each
    // commit) waits in changes_ for the next one.
    PassScope scope{std::move(changes_.subtrees), std::move(changes_.entries)};
    written_.insert(changes_.written.begin(), changes_.written.end());
    // Files written before a failed pass are looked at again.
    scope.entries.insert(written_.begin(), written_.end());
    changes_ = ChangeSet{};
    if (full) last_full = now;
    const int64_t oldest = first_change_ms_ ? first_change_ms_ : now;  // a rescan or retry
    first_change_ms_ = 0;
    want_full_ = false;
    // On stable storage before anything is done about it (replayed after a restart).
    if (Status j = journal.Append({scope.subtrees, scope.entries, written_}); !j.ok())
      return fail(j);
    before = status_;
    pass_started = NowMs();
    Status st = Pass(scope, full);
    LogPass(full, full ? 1 : scope.subtrees.size(), full ? 0 : scope.entries.size(), before,
            status_, NowMs() - pass_started, st);
    if (want_full_) changes_.overflow = true;
    if (st.ok()) {
      written_.clear();
      if (Status c = journal.Clear(); !c.ok()) return fail(c);
    }
    if (!st.ok() && st.code() != StatusCode::kIOError) return fail(st);
    if (st.ok()) {
      status_.lag_ms = first_change_ms_ ? NowMs() - first_change_ms_ : 0;
      if (status_.state != "Active") spdlog::info("msg=\"recovered: Active\"");
      status_.state = "Active";
    } else {
      // Changes the destination refused (full, permissions...): Faulty with the reason, and
      // a full pass again after a pause, until they are applied. They are still unsynced, so
      // the lag counts from the oldest of them.
      first_change_ms_ = oldest;
      if (status_.state != "Faulty") spdlog::warn("msg=Faulty reason={}", LogValue(st.message()));
      status_.state = "Faulty";
      status_.reason = st.message();
      status_.lag_ms = NowMs() - first_change_ms_;
      WriteStatus();
      changes_.overflow = true;
      for (int i = 0; i < 25 && !stop_.load(); ++i) ::usleep(200 * 1000);
    }
    WriteStatus();
  }
  watcher_.reset();
  Status closed = CloseStreams(30);
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

Status Replicator::DrainChanges() {
  if (!watcher_) return Status::Ok();
  Status st = watcher_->Drain(&changes_);
  if (changes_.changed) {
    changes_.changed = false;
    last_change_ms_ = NowMs();
    if (first_change_ms_ == 0) first_change_ms_ = last_change_ms_;
  }
  return st;
}

}  // namespace georep::replication
