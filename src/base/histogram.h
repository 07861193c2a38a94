// Histogram: how many observed durations (seconds) fell at or under each of a fixed set of
// bounds, their count and their sum -- what a Prometheus histogram exposes. The engine keeps
// one for its monitor's passes and one for its store's transactions; GET /api/v1/metrics
// shows them.
//
// Thread-safe: Observe takes a lock for a few additions.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace georep {

class Histogram {
 public:
  // What a Histogram holds at one moment.
  struct Snapshot {
    std::vector<double> bounds;        // upper bounds, ascending (+Inf implied after them)
    std::vector<uint64_t> cumulative;  // per bound: observations at or under it
    uint64_t count = 0;                // every observation (the +Inf bucket)
    double sum = 0;
  };

  // `bounds`: upper bounds in seconds, ascending; they are sorted and made unique.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double seconds);
  Snapshot Take() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // GUARDED_BY(mu_): per bucket, not cumulative
  uint64_t count_ = 0;            // GUARDED_BY(mu_)
  double sum_ = 0;                // GUARDED_BY(mu_)
};

}  // namespace georep
