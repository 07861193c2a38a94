// Internal to the Replicator (replicator*.cc): the agent streams -- the bandwidth limit all
// streams share (RateLimit), the writer of one stream that drains its replies as it writes
// (FdSink), and an extra transfer stream with its own agent and thread (ContentStream). Not
// for other users.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "replication/replicator.h"
#include "replication/replicator_batch.h"

namespace georep::replication {

// The bandwidth limit, shared by all streams: together they are never ahead of `limit` bytes
// per second (on `clock`) since the first write on any of them.
class Replicator::RateLimit {
 public:
  RateLimit(int64_t limit, Clock* clock) : limit_(limit), clock_(clock) {}
  // How long to wait before writing more (0: now).
  int WaitMs();
  void Sent(uint64_t n);

 private:
  const int64_t limit_;
  Clock* const clock_;
  std::mutex mutex_;
  bool started_ = false;  // all below guarded by mutex_
  uint64_t bytes_ = 0;
  int64_t start_ = 0;
};

// Writes frames to the agent while draining its replies, so that neither side can block the
// other when the agent has many errors to report.
class Replicator::FdSink final : public FrameSink {
 public:
  // `abort` (optional): set when the stream's thread is to stop; a write waiting for the
  // agent then gives up.
  FdSink(int to, int from, std::string* replies, RateLimit* rate,
         const std::atomic<bool>* abort = nullptr);
  Status Write(std::string_view frames) override;
  // Reads what the agent has sent so far (without blocking when `wait_ms` is 0).
  Status Drain(int wait_ms = 0);
  std::atomic<uint64_t> bytes{0};

 private:
  int to_, from_;
  std::string* replies_;
  RateLimit* rate_;
  const std::atomic<bool>* abort_;
};

// One extra stream: its own agent, sender and thread. The pass queues files (Push); the
// thread sends them, commits its own batches and hands the acknowledged ones back (Take).
// Everything the thread shares with the pass goes through mutex_.
class Replicator::ContentStream {
 public:
  ContentStream(const Replicator* owner, int number) : owner_(owner), number_(number) {}
  ~ContentStream();

  // Opens the connection and does the handshake (on the caller's thread), then starts the
  // thread.
  Status Connect();
  // Stops the thread (what it was sending is abandoned: the pass failed).
  void Stop();
  // Ends the connection cleanly (after Stop).
  Status Close(int seconds);

  // Queues a file, waiting up to `wait_ms` for room. `queued`: whether it was.
  Status Push(FileJob& job, int wait_ms, bool* queued);
  uint64_t queued_bytes();
  // Asks for everything queued to be committed and acknowledged (PassDone says when).
  void EndPass();
  // Waits up to `wait_ms` for the pass's end to be acknowledged (or a failure).
  bool WaitPassDone(int wait_ms);
  // Whether the last pass's end was acknowledged: nothing is queued or in flight.
  bool Idle();
  // Takes the acknowledged batches; non-OK once the stream failed.
  Status Take(std::vector<SettledBatch>* out);
  Status Failure();
  // What this stream sent since the last call (skipped files are in its batches instead).
  SendReport TakeCounters();
  uint64_t wire_bytes() const { return wire_bytes_.load(); }
  int read_fd() const { return link_ ? link_->read_fd() : -1; }

 private:
  void Loop();
  Status Send(const FileJob& job);
  Status Commit(bool final);
  // Hands the acknowledged batches to the pass; with `wait`, waits until at most `keep` are in
  // flight (agent_timeout_ms at most, as on stream 0).
  Status Collect(size_t keep, bool wait);
  bool SourceMovedOn(const std::vector<IndexDelta>& sent, const std::string& path) const {
    return owner_->SourceMovedOn(sent, path);
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
  Refusals refused_;
  Batch pending_;            // sent since the last Barrier
  uint64_t marked_seq_ = 0;  // where the last operation (or Barrier) ended
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
