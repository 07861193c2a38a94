// StatusFeed: live changes for the web console and any other API client (GET /api/v1/stream),
// and a short history of every session's lag and throughput (GET /sessions/{id}/metrics).
//
// One thread ("georep-feed") reads the store about every second: sessions with their nodes,
// destinations, and audit events newer than the last one seen. What changed since the previous
// read is serialized once (JSON, as the REST API shows it) and queued for every subscriber.
// Reading the store rather than hooking Operations means that changes made by the monitor, by
// workers, or by another engine sharing the database all show the same way.
//
// A session's sample (lag = the largest of its nodes', throughput = their sum) is taken when
// its nodes report something new (a node's updated_at moved): one per monitor pass. Samples
// are kept in memory for an hour; an engine restart starts the charts afresh.
//
// Thread-safe. Subscriptions are bounded: a subscriber that falls more than kMaxQueued
// changes behind gets one "resync" instead (reload everything), never unbounded memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/operations.h"

namespace georep {

struct MetricSample {
  int64_t at_ms = 0;
  double lag_seconds = -1;      // < 0: unknown
  int64_t throughput_bps = -1;  // < 0: unknown
};

class StatusFeed {
 public:
  // One server-sent event: its name and its JSON data.
  struct Change {
    std::string type;  // session, session_removed, destination, destination_removed, audit, resync
    std::string data;
  };

  class Subscription {
   public:
    // Waits up to `wait` for changes and takes them all (none on time-out). Returns false once
    // the feed closed the subscription (the engine is stopping).
    bool Next(std::chrono::milliseconds wait, std::vector<Change>* out);

   private:
    friend class StatusFeed;
    void Push(const Change& c);
    void Close();

    std::mutex mu_;
    std::condition_variable ready_;
    std::deque<Change> queue_;  // GUARDED_BY(mu_)
    bool closed_ = false;       // GUARDED_BY(mu_)
    std::string owner_;         // set once, before it is shared
  };

  static constexpr size_t kMaxSubscribers = 16;
  // One user cannot take every slot: a few console tabs each.
  static constexpr size_t kMaxPerOwner = 4;
  static constexpr size_t kMaxQueued = 1000;
  static constexpr int64_t kHistoryMillis = int64_t{3600} * 1000;
  static constexpr size_t kMaxSamples = 3600;

  StatusFeed(Operations& ops, Clock& clock, std::chrono::milliseconds interval);
  ~StatusFeed();
  StatusFeed(const StatusFeed&) = delete;
  StatusFeed& operator=(const StatusFeed&) = delete;

  void Start();
  // Stops the thread and closes every subscription, so streams end at once.
  void Stop();
  // One read of the store: queues what changed since the last read. The first read only takes
  // the baseline (nothing is queued).
  void PollOnce();

  // A stream for `owner` (a user's name); nullptr when kMaxSubscribers are already open, or
  // kMaxPerOwner of the owner's (then `*owner_full` is true).
  std::shared_ptr<Subscription> Subscribe(const std::string& owner, bool* owner_full = nullptr);
  void Unsubscribe(const std::shared_ptr<Subscription>& s);
  size_t Subscribers();

  // The session's samples, oldest first.
  std::vector<MetricSample> Metrics(const std::string& session_id);

 private:
  void Loop();
  void Publish(const std::vector<Change>& changes);
  void Sample(const SessionDetail& d, int64_t now);

  Operations& ops_;
  Clock& clock_;
  const std::chrono::milliseconds interval_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                                   // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<Subscription>> subscribers_;  // GUARDED_BY(mu_)
  std::thread thread_;

  // Touched by PollOnce only (the feed thread, or a test).
  bool have_baseline_ = false;
  std::map<std::string, std::string> sessions_;      // id -> JSON
  std::map<std::string, std::string> destinations_;  // id -> JSON
  int64_t last_event_id_ = 0;

  std::mutex metrics_mu_;
  struct History {
    int64_t last_update = 0;  // the newest node updated_at sampled
    std::deque<MetricSample> samples;
  };
  std::map<std::string, History> metrics_;  // GUARDED_BY(metrics_mu_)
};

}  // namespace georep
