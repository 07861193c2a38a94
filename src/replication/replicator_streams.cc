#include "replication/replicator_streams.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

namespace georep::replication {

// ------------------------------------------------------------------ RateLimit

int Replicator::RateLimit::WaitMs() {
  if (limit_ <= 0) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t now = clock_->MonotonicMillis();
  if (!started_) {
    started_ = true;
    start_ = now;
  }
  const double allowed = static_cast<double>(now - start_) / 1000.0 * static_cast<double>(limit_);
  if (static_cast<double>(bytes_) <= allowed) return 0;
  const double wait_s = (static_cast<double>(bytes_) - allowed) / static_cast<double>(limit_);
  return static_cast<int>(std::min(wait_s * 1000.0, 200.0)) + 1;
}

void Replicator::RateLimit::Sent(uint64_t n) {
  if (limit_ <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  bytes_ += n;
}

// ------------------------------------------------------------------ FdSink

Replicator::FdSink::FdSink(int to, int from, std::string* replies, RateLimit* rate,
                           const std::atomic<bool>* abort)
    : to_(to), from_(from), replies_(replies), rate_(rate), abort_(abort) {
  ::fcntl(to_, F_SETFL, ::fcntl(to_, F_GETFL) | O_NONBLOCK);
}

Status Replicator::FdSink::Write(std::string_view frames) {
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

Status Replicator::FdSink::Drain(int wait_ms) {
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

// ------------------------------------------------------------------ ContentStream

Replicator::ContentStream::~ContentStream() {
  Stop();
  if (link_) (void)link_->Close(5);
}

Status Replicator::ContentStream::Connect() {
  const ReplicatorOptions& o = owner_->options_;
  GEOREP_ASSIGN_OR_RETURN(link_, owner_->agent_links_->Open(number_));
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

void Replicator::ContentStream::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Replicator::ContentStream::Close(int seconds) {
  Stop();
  if (!link_) return Status::Ok();
  Status st = link_->Close(seconds);
  link_.reset();
  return st;
}

Status Replicator::ContentStream::Push(FileJob& job, int wait_ms, bool* queued) {
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

uint64_t Replicator::ContentStream::queued_bytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_bytes_;
}

void Replicator::ContentStream::EndPass() {
  std::lock_guard<std::mutex> lock(mutex_);
  end_pass_ = true;
  pass_done_ = false;
  changed_.notify_all();
}

bool Replicator::ContentStream::WaitPassDone(int wait_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] {
    return pass_done_ || !failure_.ok();
  }) && pass_done_;
}

bool Replicator::ContentStream::Idle() {
  std::lock_guard<std::mutex> lock(mutex_);
  return pass_done_;
}

Status Replicator::ContentStream::Take(std::vector<SettledBatch>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& b : settled_) out->push_back(std::move(b));
  settled_.clear();
  return failure_;
}

Status Replicator::ContentStream::Failure() {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

SendReport Replicator::ContentStream::TakeCounters() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(counters_, {});
}

void Replicator::ContentStream::Loop() {
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

Status Replicator::ContentStream::Send(const FileJob& job) {
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
  if (report.file_bytes > 0) pending_.data_bytes[job.entry.path] += report.file_bytes;
  NoteOperation(&pending_.op_path, &marked_seq_, sender_->last_seq(), job.entry.path);
  const MovedOn moved_on = [this](const std::vector<IndexDelta>& sent, const std::string& path) {
    return SourceMovedOn(sent, path);
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

Status Replicator::ContentStream::Commit(bool final) {
  GEOREP_RETURN_IF_ERROR(sender_->SendBarrier(owner_->options_.durable_batches));
  pending_.barrier = sender_->last_seq();
  marked_seq_ = pending_.barrier;
  in_flight_.push_back(std::exchange(pending_, {}));
  committed_bytes_ = sink_->bytes;
  pending_ops_ = 0;
  return Collect(final ? 0 : kBatchesInFlight, true);
}

Status Replicator::ContentStream::Collect(size_t keep, bool wait) {
  const int64_t timeout_ms = owner_->options_.agent_timeout_ms;
  const int64_t until = owner_->clock_->MonotonicMillis() + timeout_ms;
  const MovedOn moved_on = [this](const std::vector<IndexDelta>& sent, const std::string& path) {
    return SourceMovedOn(sent, path);
  };
  int wait_ms = 0;
  for (;;) {
    if (stop_.load()) return Status::Unavailable("the stream stops");
    if (wait_ms > 0 || buffer_.empty()) GEOREP_RETURN_IF_ERROR(sink_->Drain(wait_ms));
    GEOREP_RETURN_IF_ERROR(ParseReplies(&replies_, &buffer_, &acked_seq_, &refused_));
    std::vector<SettledBatch> done;
    while (!in_flight_.empty() && in_flight_.front().barrier <= acked_seq_) {
      done.push_back(Resolve(in_flight_.front(), &refused_, moved_on));
      in_flight_.pop_front();
    }
    if (!done.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& b : done) settled_.push_back(std::move(b));
    }
    if (!wait || in_flight_.size() <= keep) return Status::Ok();
    if (owner_->clock_->MonotonicMillis() > until)
      return Status::Unavailable("the agent did not acknowledge within " +
                                 DurationText(timeout_ms));
    wait_ms = 1000;
  }
}

}  // namespace georep::replication
