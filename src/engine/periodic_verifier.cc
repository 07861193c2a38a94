#include "engine/periodic_verifier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string_view>

namespace georep {
namespace {

// New differences are verified again after at most this long (sooner with a shorter
// interval), or after twice the session's lag when that is longer.
constexpr int64_t kRecheckMs = 60'000;

int64_t IntValue(const std::vector<ConfigItem>& config, std::string_view key, int64_t fallback) {
  for (const auto& c : config)
    if (c.option->key == key) return std::strtoll(c.value.c_str(), nullptr, 10);
  return fallback;
}

}  // namespace

std::vector<DueVerify> PeriodicVerifier::DueVerifies() {
  std::vector<DueVerify> due;
  auto sessions = ctx_.ListSessions({});
  if (!sessions.ok()) {
    spdlog::warn("msg=\"periodic verify cannot list sessions\" error=\"{}\"",
                 sessions.status().message());
    return due;
  }
  const int64_t now = ctx_.clock.NowMillis();
  std::set<std::string> scheduled;
  for (const Session& s : *sessions) {
    // Only a session that replicates: a stopped, paused or faulty one is not expected to match.
    if (s.status != SessionStatus::kActive) continue;
    auto config = ctx_.GetConfig(s.id);
    if (!config.ok()) continue;
    const int64_t interval = IntValue(*config, "verify-interval", 0);
    if (interval <= 0) continue;
    scheduled.insert(s.id);
    std::lock_guard<std::mutex> lock(mu_);
    State& state = states_[s.id];
    if (state.last_at == 0) state.last_at = now;  // the first one an interval from now
    const bool recheck = state.recheck_at > 0 && now >= state.recheck_at;
    if (recheck || now - state.last_at >= interval * 1000) {
      due.push_back(
          {s.id, interval,
           static_cast<int>(std::clamp<int64_t>(IntValue(*config, "verify-sample", 10), 1, 100))});
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(states_, [&](const auto& kv) { return !scheduled.count(kv.first); });
  return due;
}

Result<PeriodicVerifyOutcome> PeriodicVerifier::PeriodicVerify(const Actor& a, const DueVerify& due,
                                                               const std::atomic<bool>* cancel) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  const std::string& id = due.session_id;
  // Times count from the verify's start: what it compared is the trees as they were then (and
  // a re-check is due a delay after that, however long the walk took).
  const int64_t now = ctx_.clock.NowMillis();
  auto report = verifier_.RunVerify(a, id, due.sample_percent, cancel);
  if (cancel && cancel->load()) return report.status();
  if (!report.ok()) {
    // Recorded as a failed session.verify; tried again an interval later, the alert as it was.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = states_.find(id);
    if (it != states_.end()) {
      it->second.last_at = now;
      it->second.recheck_at = 0;
    }
    return report.status();
  }
  if (report->differences.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      states_[id] = State{now, 0, {}};
    }
    GEOREP_RETURN_IF_ERROR(verifier_.RecordVerifyDiffers(a, id, {}, ""));
    return PeriodicVerifyOutcome::kClean;
  }
  // The re-check: a path that differed last time too, its source just as it was then, has had
  // the whole delay to arrive.
  std::vector<replication::VerifyDifference> confirmed;
  int64_t recheck_delay = std::min<int64_t>(due.interval_seconds * 1000, kRecheckMs);
  if (auto detail = ctx_.GetSession(id); detail.ok() && detail->lag_ms > 0)
    recheck_delay = std::max(recheck_delay, 2 * detail->lag_ms);
  int64_t since_last_ms = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    State& state = states_[id];
    since_last_ms = now - state.last_at;
    std::map<std::string, std::string> seen;
    for (const auto& d : report->differences) {
      seen.emplace(d.path, d.source_state);
      auto before = state.suspects.find(d.path);
      if (before != state.suspects.end() && before->second == d.source_state)
        confirmed.push_back(d);
    }
    state.last_at = now;
    state.suspects = std::move(seen);
    state.recheck_at = confirmed.empty() ? now + recheck_delay : 0;
  }
  if (confirmed.empty()) {
    spdlog::info(
        "msg=\"periodic verify found differences; re-checking before an alert\" session={} "
        "differences={} first=\"{}: {}\" recheck_in_s={}",
        id, report->differences.size(), report->differences[0].path, report->differences[0].what,
        recheck_delay / 1000);
    return PeriodicVerifyOutcome::kSuspected;
  }
  GEOREP_RETURN_IF_ERROR(verifier_.RecordVerifyDiffers(
      a, id, confirmed,
      fmt::format("the periodic verify of {}% of the files (seen again {} s later, the source "
                  "unchanged)",
                  due.sample_percent, (since_last_ms + 500) / 1000)));
  return PeriodicVerifyOutcome::kConfirmed;
}

}  // namespace georep
