// The figures georep shows for a session and its nodes -- last synced, lag, throughput -- and the
// rules that keep them true: each is measured end to end, unknown (-1; 0 for a time) when it
// cannot be known, never a made-up 0; the session's are its nodes', aggregated by one rule for
// the header and the node rows alike.
//
//   last synced  every change made before it is applied at the destination. A session's: the
//                oldest of its replica sets' (a set's: the newest of its nodes', since any of
//                them may have been its Active worker); unknown when a set has none.
//   lag          how long the oldest change not yet applied has waited; 0 only when measured in
//                step. A lag recorded while a change was pending grows on after it was
//                recorded (a session whose worker stopped with changes waiting falls further
//                behind for as long as it stays stopped). A session's: the largest of the
//                nodes that replicate (Passive standbys do not), unknown if one is unknown.
//   throughput   bytes applied at the destination per second, over a moving window of the
//                worker's reports of what it applied so far (ThroughputWindow); 0 when nothing
//                was applied in the window, unknown before two reports or while none arrives.
//                A session's: the sum of its nodes', unknown if one is unknown.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "model/entities.h"

namespace georep {

// The bytes applied per second, from successive reports of a counter of bytes applied so far.
class ThroughputWindow {
 public:
  // The rate is taken over at least this long, when the reports go back that far.
  static constexpr int64_t kWindowMs = 10'000;

  // A report made at `at_ms`: `applied` bytes applied so far. A report no newer than the last
  // is the same one read again (ignored); a count that went back (the worker's state was
  // made anew) starts the window over.
  void Add(int64_t at_ms, int64_t applied);
  // Bytes per second over the window that ends at the newest report; -1 (unknown) with fewer
  // than two reports, or when the newest is older than the window at `now_ms` (the worker has
  // stopped reporting).
  int64_t BytesPerSecond(int64_t now_ms) const;
  void Clear() { reports_.clear(); }

 private:
  std::deque<std::pair<int64_t, int64_t>> reports_;  // (at, applied), oldest first
};

// `n`'s lag at `now`: as recorded at n.updated_at, and grown since then when n.lag_grows.
int64_t NodeLagNow(const SessionNodeStatus& n, int64_t now);

// The session's figures from its nodes (rows as recorded, their lag as of now).
int64_t SessionLastSynced(const std::vector<SessionNodeStatus>& nodes);
int64_t SessionLag(const std::vector<SessionNodeStatus>& nodes);
int64_t SessionThroughput(const std::vector<SessionNodeStatus>& nodes);

}  // namespace georep
