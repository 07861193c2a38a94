#include "engine/engine_lease.h"

#include <charconv>
#include <string_view>
#include <utility>

#include "base/log.h"

namespace georep {

namespace {

// The host and process of a holder "HOST:PID:START"; pid 0 when it is not in that form.
std::pair<std::string, int> HostAndPid(const std::string& holder) {
  size_t second = holder.rfind(':');
  size_t first = second == std::string::npos || second == 0 ? std::string::npos
                                                            : holder.rfind(':', second - 1);
  if (first == std::string::npos) return {"", 0};
  int pid = 0;
  std::string_view digits(holder.data() + first + 1, second - first - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || end != digits.data() + digits.size()) return {"", 0};
  return {holder.substr(0, first), pid};
}

}  // namespace

EngineLeaseKeeper::EngineLeaseKeeper(Store& store, Clock& clock, std::string holder,
                                     int64_t ttl_millis, std::function<bool(int pid)> process_alive)
    : store_(store),
      clock_(clock),
      holder_(std::move(holder)),
      ttl_(ttl_millis),
      process_alive_(std::move(process_alive)) {}

EngineLeaseKeeper::~EngineLeaseKeeper() {
  bool held = false;
  {
    std::lock_guard lock(mu_);
    held = held_until_mono_ > 0;
  }
  if (held) (void)Release();
}

Result<EngineLease> EngineLeaseKeeper::Claim() {
  // The term starts before the claim is sent: however long the database takes to answer,
  // this engine's term ends no later than the lease it wrote.
  const int64_t mono = clock_.MonotonicMillis();
  const int64_t now = clock_.NowMillis();
  EngineLease lease;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(lease, tx.ClaimLease(kName, holder_, now, now + ttl_, now));
    if (lease.holder == holder_) return Status::Ok();
    // Held by an engine of this machine that is no longer running: free now. (Only if the
    // row still holds that lease: a live engine's renewal moves its expiry past it.)
    auto [host, pid] = HostAndPid(lease.holder);
    if (pid > 0 && host == HostAndPid(holder_).first && process_alive_ && !process_alive_(pid)) {
      spdlog::info(
          "msg=\"taking over the lease of an engine of this machine that has exited\" holder={}",
          LogValue(lease.holder));
      GEOREP_ASSIGN_OR_RETURN(lease,
                              tx.ClaimLease(kName, holder_, now, now + ttl_, lease.expires_at + 1));
    }
    return Status::Ok();
  });
  std::lock_guard lock(mu_);
  if (!st.ok()) return st;  // the term stands as it was: it runs out unless a claim succeeds
  last_ = lease;
  held_until_mono_ = lease.holder == holder_ ? mono + ttl_ - ttl_ / 10 : 0;
  return lease;
}

bool EngineLeaseKeeper::Held() const {
  return TermLeftMillis() > 0;
}

int64_t EngineLeaseKeeper::TermLeftMillis() const {
  std::lock_guard lock(mu_);
  if (held_until_mono_ == 0) return 0;
  return std::max<int64_t>(0, held_until_mono_ - clock_.MonotonicMillis());
}

EngineLease EngineLeaseKeeper::Last() const {
  std::lock_guard lock(mu_);
  return last_;
}

Status EngineLeaseKeeper::Release() {
  {
    std::lock_guard lock(mu_);
    held_until_mono_ = 0;
  }
  Status st =
      store_.Transaction([&](StoreTx& tx) -> Status { return tx.ReleaseLease(kName, holder_); });
  if (!st.ok())
    spdlog::warn("msg=\"cannot release the engine lease\" error={}", LogValue(st.message()));
  return st;
}

}  // namespace georep
