// TimedStore: a Store that hands every transaction to another and times it, into a Histogram:
// how long a caller waited for the store, from asking to the commit or rollback -- the wait
// for the store's one connection included, since that is what every operation, the monitor
// and the API pay. `georep serve` runs the engine on one; GET /api/v1/metrics shows it as
// georep_store_transaction_duration_seconds.
//
// Thread-safe, as the Store it wraps is.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "store/store.h"

namespace georep {

class TimedStore final : public Store {
 public:
  // Neither is owned; both must outlive this.
  TimedStore(Store& inner, Histogram& durations) : inner_(inner), durations_(durations) {}

  // Bounds (seconds) for `durations`' buckets that suit a store: a local SQLite commit takes
  // well under a millisecond; a remote PostgreSQL's a round trip or more.
  static std::vector<double> Bounds() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }

  Status Transaction(const std::function<Status(StoreTx&)>& fn) override;
  int SchemaVersion() override { return inner_.SchemaVersion(); }
  std::string Backend() const override { return inner_.Backend(); }

 private:
  Store& inner_;
  Histogram& durations_;
};

}  // namespace georep
