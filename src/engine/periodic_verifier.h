// PeriodicVerifier: the periodic sampled verify (verify-interval, verify-sample) of every kind
// of session -- when a session's verify is due, and when a difference it found is a real one.
// The monitor (session_monitor.h) asks DueVerifies and runs PeriodicVerify off its verify
// tick. The verify itself, its session.verify event and the "verify-differs" alert are
// SessionVerifier's (session_verifier.h); what is here is the schedule of every session and
// the differences being re-checked, in memory only (after a restart the first verify comes
// an interval after a session is seen Active).
//
// Operations owns the one PeriodicVerifier, on its EngineContext and SessionVerifier, and
// hands it out as Operations::periodic_verifier().
//
// Thread-safe: the schedule is guarded by its own mutex, never held during a verify.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine_context.h"
#include "engine/operation_types.h"
#include "engine/session_verifier.h"

namespace georep {

class PeriodicVerifier {
 public:
  // `ctx` and `verifier` must outlive the PeriodicVerifier.
  PeriodicVerifier(EngineContext& ctx, SessionVerifier& verifier)
      : ctx_(ctx), verifier_(verifier) {}
  PeriodicVerifier(const PeriodicVerifier&) = delete;
  PeriodicVerifier& operator=(const PeriodicVerifier&) = delete;

  // Sessions whose verify is due: Active, with verify-interval set, and the last periodic
  // verify (or the first time the session was seen so) at least an interval ago -- or a
  // re-check due sooner. Sessions that are not Active (or have it off) forget their schedule:
  // the first verify comes an interval after they are Active again.
  std::vector<DueVerify> DueVerifies();
  // Runs one periodic verify and keeps the alert: a difference raises "verify-differs" only
  // when the previous periodic verify saw the same path differ with the source entry in the
  // same state (so a file in flight, or changed in between, is not a difference); new
  // differences are re-checked after min(interval, 60 s), or twice the session's lag if more.
  // A verify that cannot run changes no alert (a failed session.verify event); `cancel` set
  // ends it early (Unavailable, no event).
  Result<PeriodicVerifyOutcome> PeriodicVerify(const Actor& a, const DueVerify& due,
                                               const std::atomic<bool>* cancel = nullptr);

 private:
  // A session's schedule and the differences it is re-checking.
  struct State {
    int64_t last_at = 0;     // the last periodic verify's end (first: when first seen due)
    int64_t recheck_at = 0;  // when the suspects are verified again; 0: none
    std::map<std::string, std::string> suspects;  // path -> its source state then
  };

  EngineContext& ctx_;
  SessionVerifier& verifier_;
  std::mutex mu_;
  std::map<std::string, State> states_;  // by session; GUARDED_BY(mu_)
};

}  // namespace georep
