#include "replication/replicator.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

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

// Writes frames to the agent while draining its replies, so that neither side can block the
// other when the agent has many errors to report.
class Replicator::FdSink final : public FrameSink {
 public:
  FdSink(int to, int from, std::string* replies, int64_t limit)
      : to_(to), from_(from), replies_(replies), limit_(limit) {
    ::fcntl(to_, F_SETFL, ::fcntl(to_, F_GETFL) | O_NONBLOCK);
  }
  Status Write(std::string_view frames) override {
    while (!frames.empty()) {
      // The bandwidth limit: never ahead of `limit_` bytes per second since the first write.
      if (limit_ > 0) {
        const auto now = std::chrono::steady_clock::now();
        if (bytes == 0) start_ = now;
        const double allowed =
            std::chrono::duration<double>(now - start_).count() * static_cast<double>(limit_);
        if (static_cast<double>(bytes) > allowed) {
          const double wait_s =
              (static_cast<double>(bytes) - allowed) / static_cast<double>(limit_);
          GEOREP_RETURN_IF_ERROR(Drain(static_cast<int>(std::min(wait_s * 1000.0, 200.0)) + 1));
          continue;
        }
      }
      pollfd fds[2] = {{to_, POLLOUT, 0}, {from_, POLLIN, 0}};
      if (::poll(fds, 2, 30000) < 0) {
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
  uint64_t bytes = 0;

 private:
  int to_, from_;
  std::string* replies_;
  int64_t limit_;
  std::chrono::steady_clock::time_point start_;
};

Replicator::Replicator(ReplicatorOptions options) : options_(std::move(options)) {}
Replicator::~Replicator() = default;

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

void Replicator::WriteStatus() {
  status_.updated_ms = NowMs();
  if (sink_) status_.wire_bytes = sink_->bytes;
  (void)WriteFileAtomically(options_.state_dir + "/status.json", StatusToJson(status_));
}

Status Replicator::Connect() {
  GEOREP_ASSIGN_OR_RETURN(link_,
                          SpawnAgent(options_.agent_argv, options_.state_dir + "/agent.log"));
  read_buffer_.clear();
  sink_ = std::make_unique<FdSink>(link_->write_fd(), link_->read_fd(), &read_buffer_,
                                   options_.bandwidth_limit);
  SenderOptions so;
  so.compress = options_.compress;
  so.send_xattrs = options_.send_xattrs;
  GEOREP_ASSIGN_OR_RETURN(sender_, TreeSender::Open(options_.source, sink_.get(), so));
  GEOREP_RETURN_IF_ERROR(sender_->SendHello(kCapabilitiesSupported, "georep worker"));
  GEOREP_RETURN_IF_ERROR(sender_->Flush());
  Decoder decoder;
  std::vector<Message> in;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (in.empty()) {
    if (std::chrono::steady_clock::now() > until)
      return Status::Unavailable("the agent did not answer within 60 s: " + link_->ErrorTail());
    Status d = sink_->Drain(500);
    if (!d.ok()) return Status::Unavailable(d.message() + ": " + link_->ErrorTail());
    GEOREP_RETURN_IF_ERROR(decoder.Feed(read_buffer_, &in));
    read_buffer_.clear();
  }
  if (const auto* reply = std::get_if<HelloReply>(&in[0]); reply && reply->accepted) {
    // A destination on this host copies large files from the source itself, whole: as with
    // rsync's local copies, a delta would cost more reading and hashing than it saves. A
    // bandwidth limit or compression shapes the stream: then everything goes through it.
    const bool source_copy = (reply->capabilities & kCapSourceCopy) != 0 &&
                             options_.bandwidth_limit == 0 && !options_.compress;
    block_delta_ = (reply->capabilities & kCapBlockDelta) != 0 && !source_copy;
    sender_->EnableSourceCopy(source_copy);
    sender_->EnableBlockDelta(block_delta_);
    signatures_ = std::make_unique<SignatureStore>(options_.state_dir + "/signatures");
    replies_ = std::make_unique<Decoder>();
    acked_seq_ = 0;
    refused_.clear();
    return Status::Ok();
  } else if (reply) {
    return Status::FailedPrecondition("the agent refused the connection: " + reply->reason);
  }
  if (const auto* e = std::get_if<Error>(&in[0]))
    return Status::Unavailable("the agent failed: " + e->message);
  return Status::Corruption("the agent answered the handshake with " +
                            std::string(MessageTypeName(TypeOf(in[0]))));
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
  std::vector<Message> in;
  GEOREP_RETURN_IF_ERROR(replies_->Feed(read_buffer_, &in));
  read_buffer_.clear();
  for (const Message& m : in) {
    if (const auto* e = std::get_if<Error>(&m)) {
      if (e->seq == 0) return Status::Unavailable("the agent failed: " + e->message);
      refused_[e->seq] = {e->message, e->code == ErrorCode::kSourceChanged};
    } else if (const auto* a = std::get_if<Ack>(&m)) {
      acked_seq_ = std::max(acked_seq_, a->applied_seq);
    }
  }
  return Status::Ok();
}

// One pass: the changed part of the source (or all of it) against the index.
Status Replicator::Pass(const PassScope& changed, bool full) {
  const int64_t started = NowMs();
  const uint64_t bytes_before = sink_->bytes;
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
  spdlog::debug("TIMING scanned={}", NowMs() - started);
  SyncedIndex next = index_;
  spdlog::debug("TIMING copied={}", NowMs() - started);
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
  struct Batch {
    uint64_t barrier = 0;
    std::vector<IndexDelta> deltas;
    std::map<uint64_t, std::string> op_path;
    std::vector<std::pair<std::string, std::string>> refused;  // known before it was sent
  };
  std::deque<Batch> in_flight;
  std::vector<std::pair<std::string, std::string>> refused_all;
  size_t skipped_done = 0;
  uint64_t committed_bytes = sink_->bytes;
  size_t ops_since_commit = 0;
  // A batch acknowledged: its deltas go to index_ and the index log -- except for what the
  // agent refused or could not be sent, which stays as the index had it and is marked to be
  // sent again (never counted as synced).
  auto settle = [&](Batch& b) -> Status {
    std::vector<std::pair<std::string, std::string>> refused = std::move(b.refused);
    std::set<std::string> refused_paths;
    for (auto f = refused_.begin(); f != refused_.end() && f->first <= b.barrier;) {
      if (auto op = b.op_path.lower_bound(f->first); op != b.op_path.end()) {
        // A file rewritten while the agent copied it is sent again once its change is seen
        // (the rewrite queued a change event); it is a failure only if it still looks as sent.
        if (f->second.source_changed && SourceMovedOn(b.deltas, op->second))
          refused_paths.insert(op->second);
        else
          refused.emplace_back(op->second, f->second.message);
      }
      f = refused_.erase(f);
    }
    for (const auto& r : refused) refused_paths.insert(r.first);
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
    refused_all.insert(refused_all.end(), refused.begin(), refused.end());
    // The first refusal is the cause (a file that did not fit); later ones often follow it.
    if (!refused_all.empty()) {
      status_.reason = refused_all.front().first;
      status_.reason += ": ";
      status_.reason += refused_all.front().second;
    }
    return index_store_->Append(applied, index_);
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
    if (final)
      for (const auto& e : unreadable) b.refused.emplace_back(e.path, e.status.message());
    in_flight.push_back(std::move(b));
    committed_bytes = sink_->bytes;
    ops_since_commit = 0;
    return collect(final ? 0 : kBatchesInFlight, true);
  };
  auto mark = [&](const std::string& path) -> Status {
    op_path[sender_->last_seq()] = path;
    if (sink_->bytes - committed_bytes >= kBatchBytes || ++ops_since_commit >= kBatchOps)
      return commit(false);
    return Status::Ok();
  };
  for (const ScanEntry& e : entries) {
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
      const bool have_basis =
          block_delta_ && !is_new && e.type == EntryType::kRegular && e.size >= kDeltaMinFileSize &&
          signatures_->Find(e.path, it->second.size, it->second.mtime_ns, &basis);
      GEOREP_RETURN_IF_ERROR(
          sender_->SendEntry(e, &report, have_basis ? &basis : nullptr,
                             block_delta_ && e.type == EntryType::kRegular ? &fresh : nullptr));
      if (fresh.block_size != 0) {
        (void)signatures_->Save(e.path, fresh);  // lost: the next change goes whole
      } else if (have_basis) {
        signatures_->Forget(e.path);
      }
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
  spdlog::debug("TIMING sent={}", NowMs() - started);
  status_.pending_entry = entry_ops;
  status_.pending_data = data_ops;
  status_.pending_meta = meta_ops;
  if (entry_ops + data_ops + meta_ops > 0) WriteStatus();
  GEOREP_RETURN_IF_ERROR(commit(true));
  spdlog::debug("TIMING commit_done={}", NowMs() - started);
  const std::vector<std::pair<std::string, std::string>>& refused = refused_all;
  // The changed file's links outside this pass's directories, or moved with a directory: a
  // full pass rejoins them.
  if (full) relink_.clear();
  relink_.insert(relink_next.begin(), relink_next.end());
  if (linked_change) want_full_ = true;
  status_.failures = refused.size();
  const int64_t took = std::max<int64_t>(1, NowMs() - started);
  status_.bytes_sent += report.file_bytes;
  status_.files_sent += report.files;
  status_.wire_bytes += sink_->bytes - bytes_before;
  status_.delta_files += report.delta_files;
  status_.delta_copied_bytes += report.delta_copied_bytes;
  status_.throughput_bps =
      static_cast<double>(sink_->bytes - bytes_before) * 1000.0 / static_cast<double>(took);
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
    Status closed = link_->Close(30);
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
  Status closed = link_->Close(30);
  status_.state = "Stopped";
  WriteStatus();
  spdlog::info("msg=\"worker stopped\"");
  return closed;
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
