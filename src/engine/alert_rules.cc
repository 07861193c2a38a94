#include "engine/alert_rules.h"

#include <fmt/format.h>

#include <algorithm>

#include "model/names.h"

namespace georep {
namespace {

// The standing session alerts (SessionAlert kinds) and the rule each raises.
struct StandingRule {
  std::string_view kind;
  std::string_view rule;
};
constexpr StandingRule kStanding[] = {
    {"stalled", "session-stalled"},
    {"data-at-risk", "data-at-risk"},
    {"heartbeat-mismatch", "heartbeat-mismatch"},
    {"heartbeat-failing", "heartbeat-failing"},
    {"verify-differs", "verify-differs"},
    {"change-capture", "change-capture"},
};

std::string FaultySummary(const SessionDetail& d) {
  std::string out = fmt::format("session is {}", Name(d.session.status));
  if (!d.session.status_reason.empty()) out += ": " + d.session.status_reason;
  int shown = 0;
  for (const auto& n : d.nodes) {
    if (n.status != NodeStatus::kFaulty) continue;
    if (shown++ == 3) {
      out += "; ...";
      break;
    }
    out += fmt::format("; node {}:{} Faulty", n.source_host, n.source_brick);
    if (!n.status_reason.empty()) out += " (" + n.status_reason + ")";
  }
  return out;
}

}  // namespace

std::string HumanDuration(int64_t ms) {
  const int64_t s = std::max<int64_t>(0, ms) / 1000;
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min", s / 60);
  if (s < 86400) {
    return s % 3600 >= 60 ? fmt::format("{} h {} min", s / 3600, s % 3600 / 60)
                          : fmt::format("{} h", s / 3600);
  }
  return s % 86400 >= 3600 ? fmt::format("{} d {} h", s / 86400, s % 86400 / 3600)
                           : fmt::format("{} d", s / 86400);
}

std::vector<AlertCondition> SessionConditions(const SessionAlertInput& in, int64_t now) {
  std::vector<AlertCondition> out;
  if (in.detail == nullptr) return out;
  const SessionDetail& d = *in.detail;
  auto add = [&](std::string_view rule, std::string summary) {
    out.push_back(
        {std::string(rule), "session", d.session.id, d.session.session_key, std::move(summary)});
  };
  const SessionStatus status = d.session.status;
  if (status == SessionStatus::kFaulty || status == SessionStatus::kPartialFaulty)
    add("session-faulty", FaultySummary(d));
  for (const auto& a : d.alerts) {
    for (const auto& s : kStanding) {
      if (a.kind == s.kind) add(s.rule, a.message);
    }
  }
  // Lag is known only where it was measured; unknown never raises (nor clears) on a guess.
  if (in.lag_threshold_ms > 0 && d.lag_ms >= 0 && d.lag_ms > in.lag_threshold_ms) {
    add("lag-high", fmt::format("lag {}, over the threshold of {}", HumanDuration(d.lag_ms),
                                HumanDuration(in.lag_threshold_ms)));
  }
  if (in.checkpoint_timeout_ms > 0 && in.checkpoint_ms > 0 &&
      d.session.checkpoint_announced != in.checkpoint_ms) {
    const int64_t since = std::max(in.checkpoint_set_at, in.checkpoint_ms);
    if (now - since > in.checkpoint_timeout_ms) {
      add("checkpoint-overdue",
          fmt::format("checkpoint set {} ago has not completed (allowed: {})",
                      HumanDuration(now - since), HumanDuration(in.checkpoint_timeout_ms)));
    }
  }
  if (in.disk_percent > 0 && in.destination_size_bytes > 0 && in.destination_used_bytes >= 0) {
    const double used = 100.0 * static_cast<double>(in.destination_used_bytes) /
                        static_cast<double>(in.destination_size_bytes);
    if (used >= in.disk_percent) {
      add("destination-disk-full",
          fmt::format("destination volume {} is {:.0f}% full (alert at {}%): {:.1f} of {:.1f} GiB",
                      d.session.destination_volume, used, in.disk_percent,
                      static_cast<double>(in.destination_used_bytes) / (1 << 30),
                      static_cast<double>(in.destination_size_bytes) / (1 << 30)));
    }
  }
  return out;
}

std::vector<AlertCondition> DestinationConditions(const Destination& d) {
  if (d.connection != ConnectionStatus::kBroken) return {};
  return {{"destination-broken", "destination", d.id, d.host,
           d.connection_reason.empty() ? "the engine cannot reach it"
                                       : "the engine cannot reach it: " + d.connection_reason}};
}

}  // namespace georep
