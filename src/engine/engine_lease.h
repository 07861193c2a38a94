// EngineLeaseKeeper: which of the engines sharing one database is the active one.
//
// Engines on one PostgreSQL database would otherwise each start every directory session's
// worker and poll every session, and fight over both. One lease row (store: ClaimLease) names
// the active engine until it expires; the active engine renews it every third of its
// lifetime, the others (standby) claim it when it has expired or been released. The holder
// counts its term on its own monotonic clock from before the claim, less a tenth, so it
// stops acting before any other engine may start: when Held() turns false the engine must
// stop its workers (serve.cc exits). Engines' wall clocks must agree (NTP) to well within the
// lease's lifetime, since expiry is compared on them.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "store/store.h"

namespace georep {

class EngineLeaseKeeper {
 public:
  // `holder`: "HOST:PID:START". `process_alive` tells whether a process of this machine
  // runs: a lease left by a dead engine of this machine is taken at once, not after it
  // expires (an engine restarted after a crash does not stand by for its own old lease).
  EngineLeaseKeeper(Store& store, Clock& clock, std::string holder, int64_t ttl_millis,
                    std::function<bool(int pid)> process_alive);
  // Releases the lease if held: a standby takes over at once instead of after the lifetime.
  // Destroy it after everything that acts under the lease has stopped.
  ~EngineLeaseKeeper();
  EngineLeaseKeeper(const EngineLeaseKeeper&) = delete;
  EngineLeaseKeeper& operator=(const EngineLeaseKeeper&) = delete;

  // Takes or renews the lease; returns it as it stands (another engine's when not free).
  Result<EngineLease> Claim();
  // Whether this engine holds the lease and its term has not run out.
  bool Held() const;
  // Milliseconds left of this engine's term (0 when not held), on the monotonic clock.
  int64_t TermLeftMillis() const;
  // The last lease seen (holder empty before the first successful claim).
  EngineLease Last() const;
  Status Release();

  const std::string& holder() const { return holder_; }
  int64_t ttl_millis() const { return ttl_; }

  static constexpr const char* kName = "engine";

 private:
  Store& store_;
  Clock& clock_;
  const std::string holder_;
  const int64_t ttl_;
  const std::function<bool(int)> process_alive_;
  mutable std::mutex mu_;
  int64_t held_until_mono_ = 0;  // GUARDED_BY(mu_)
  EngineLease last_;             // GUARDED_BY(mu_)
};

}  // namespace georep
