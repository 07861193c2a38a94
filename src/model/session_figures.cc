#include "model/session_figures.h"

#include <algorithm>
#include <map>

namespace georep {

void ThroughputWindow::Add(int64_t at_ms, int64_t applied) {
  if (applied < 0) return;
  if (!reports_.empty()) {
    if (at_ms <= reports_.back().first) return;
    if (applied < reports_.back().second) reports_.clear();
  }
  reports_.emplace_back(at_ms, applied);
  // Only the newest report at least a window older than the newest is needed: the base.
  while (reports_.size() > 2 && reports_[1].first <= at_ms - kWindowMs) reports_.pop_front();
}

int64_t ThroughputWindow::BytesPerSecond(int64_t now_ms) const {
  if (reports_.size() < 2) return -1;
  const auto& [newest_at, newest] = reports_.back();
  if (now_ms - newest_at > kWindowMs) return -1;
  // The base: the newest report at least a window before the newest, else the oldest kept.
  auto base = reports_.front();
  for (const auto& r : reports_)
    if (r.first <= newest_at - kWindowMs) base = r;
  const int64_t span = newest_at - base.first;
  if (span <= 0) return -1;
  return (newest - base.second) * 1000 / span;
}

int64_t NodeLagNow(const SessionNodeStatus& n, int64_t now) {
  if (n.lag_ms < 0) return -1;
  return n.lag_grows ? n.lag_ms + std::max<int64_t>(0, now - n.updated_at) : n.lag_ms;
}

int64_t SessionLastSynced(const std::vector<SessionNodeStatus>& nodes) {
  std::map<int, int64_t> sets;  // set -> the newest of its nodes'
  for (const auto& n : nodes) {
    int64_t& s = sets[n.set_index];
    s = std::max(s, n.last_synced);
  }
  int64_t oldest = 0;
  for (const auto& [index, synced] : sets) {
    if (synced <= 0) return 0;
    if (oldest == 0 || synced < oldest) oldest = synced;
  }
  return oldest;
}

namespace {

// Whether `n` replicates (its figures count for the session): not a Passive standby.
bool Replicates(const SessionNodeStatus& n) {
  return n.status != NodeStatus::kPassive;
}

}  // namespace

int64_t SessionLag(const std::vector<SessionNodeStatus>& nodes) {
  int64_t lag = -1;
  for (const auto& n : nodes) {
    if (!Replicates(n)) continue;
    if (n.lag_ms < 0) return -1;
    lag = std::max(lag, n.lag_ms);
  }
  return lag;
}

int64_t SessionThroughput(const std::vector<SessionNodeStatus>& nodes) {
  int64_t sum = -1;
  for (const auto& n : nodes) {
    if (!Replicates(n)) continue;
    if (n.throughput_bps < 0) return -1;
    sum = std::max<int64_t>(0, sum) + n.throughput_bps;
  }
  return sum;
}

}  // namespace georep
