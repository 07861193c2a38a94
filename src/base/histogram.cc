#include "base/histogram.h"

#include <algorithm>
#include <utility>

namespace georep {
namespace {

std::vector<double> Ascending(std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(Ascending(std::move(bounds))), counts_(bounds_.size(), 0) {}

void Histogram::Observe(double seconds) {
  // The first bound at or above the value: Prometheus's buckets are "le" (less or equal).
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  if (bucket < counts_.size()) ++counts_[bucket];
  ++count_;
  sum_ += seconds;
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size());
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) s.cumulative.push_back(running += c);
  s.count = count_;
  s.sum = sum_;
  return s;
}

}  // namespace georep
