#include "model/alerts.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace georep {
namespace {

template <typename E, size_t N>
std::optional<E> ParseWord(std::string_view s, const std::array<std::string_view, N>& words) {
  for (size_t i = 0; i < N; ++i)
    if (words[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

constexpr std::array<std::string_view, 2> kSeverities = {"warning", "critical"};
constexpr std::array<std::string_view, 2> kStates = {"firing", "resolved"};
constexpr std::array<std::string_view, 2> kNotifierKinds = {"webhook", "email"};
constexpr std::array<std::string_view, 3> kDeliveryStates = {"pending", "delivered", "failed"};

}  // namespace

std::string_view Name(AlertSeverity v) {
  return kSeverities.at(static_cast<size_t>(v));
}
std::string_view Name(AlertState v) {
  return kStates.at(static_cast<size_t>(v));
}
std::string_view Name(NotifierKind v) {
  return kNotifierKinds.at(static_cast<size_t>(v));
}
std::string_view Name(DeliveryState v) {
  return kDeliveryStates.at(static_cast<size_t>(v));
}
std::optional<AlertSeverity> ParseAlertSeverity(std::string_view s) {
  return ParseWord<AlertSeverity>(s, kSeverities);
}
std::optional<AlertState> ParseAlertState(std::string_view s) {
  return ParseWord<AlertState>(s, kStates);
}
std::optional<NotifierKind> ParseNotifierKind(std::string_view s) {
  return ParseWord<NotifierKind>(s, kNotifierKinds);
}
std::optional<DeliveryState> ParseDeliveryState(std::string_view s) {
  return ParseWord<DeliveryState>(s, kDeliveryStates);
}

const std::vector<AlertRule>& AlertRules() {
  static const std::vector<AlertRule> kRules = {
      {"session-faulty", AlertSeverity::kCritical, "session",
       "The session is Faulty or Partial faulty: a node's worker failed."},
      {"session-stalled", AlertSeverity::kCritical, "session",
       "The end-to-end heartbeat has not arrived within the session's stall-threshold."},
      {"data-at-risk", AlertSeverity::kCritical, "session",
       "gsyncd's sync-method would write files without their content on this platform."},
      {"heartbeat-mismatch", AlertSeverity::kCritical, "session",
       "A heartbeat arrived with the wrong size or content: file contents are being lost."},
      {"heartbeat-failing", AlertSeverity::kWarning, "session",
       "The end-to-end heartbeat cannot be written or read: the lag is unknown."},
      {"verify-differs", AlertSeverity::kCritical, "session",
       "A verify found the destination different from the source."},
      {"change-capture", AlertSeverity::kWarning, "session",
       "The worker cannot watch the source for changes (e.g. the inotify watch limit): changes "
       "are found by rescans, later."},
      {"lag-high", AlertSeverity::kWarning, "session",
       "The lag is over alert-lag-threshold (the session's, or the engine's setting)."},
      {"checkpoint-overdue", AlertSeverity::kWarning, "session",
       "A checkpoint has not completed within alert-checkpoint-timeout."},
      {"destination-disk-full", AlertSeverity::kWarning, "session",
       "The destination volume is fuller than alert-disk-usage percent."},
      {"destination-broken", AlertSeverity::kCritical, "destination",
       "The engine cannot reach the destination: its last test or re-establish failed."},
  };
  return kRules;
}

const AlertRule* FindAlertRule(std::string_view name) {
  for (const auto& r : AlertRules())
    if (r.name == name) return &r;
  return nullptr;
}

int64_t NextDeliveryAttempt(int attempts_made, int64_t now_ms) {
  if (attempts_made >= kMaxDeliveryAttempts) return 0;
  int64_t wait_ms = 10'000;
  for (int i = 1; i < attempts_made && wait_ms < 3'600'000; ++i) wait_ms *= 3;
  return now_ms + std::min<int64_t>(wait_ms, 3'600'000);
}

const std::vector<EngineSettingInfo>& EngineSettingsCatalog() {
  static const std::vector<EngineSettingInfo> kSettings = {
      {"alert-lag-threshold", 900, 0, int64_t{30} * 86400,
       "Seconds of lag over which a session's lag-high alert fires, for sessions whose own "
       "alert-lag-threshold is 0. 0 turns the alert off."},
      {"alert-checkpoint-timeout", 3600, 0, int64_t{30} * 86400,
       "Seconds a checkpoint may take, from when it was set, before its checkpoint-overdue alert "
       "fires, for sessions whose own alert-checkpoint-timeout is 0. 0 turns the alert off."},
      {"alert-disk-usage", 90, 0, 100,
       "Percent of a destination volume in use over which its sessions' destination-disk-full "
       "alert fires. 0 turns the alert off."},
  };
  return kSettings;
}

const EngineSettingInfo* FindEngineSetting(std::string_view key) {
  for (const auto& s : EngineSettingsCatalog())
    if (s.key == key) return &s;
  return nullptr;
}

Result<int64_t> ParseEngineSetting(const EngineSettingInfo& info, std::string_view value) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    return Status::InvalidArgument(
               fmt::format("{} is a whole number, not '{}'", info.key, std::string(value)))
        .WithField("value");
  }
  if (n < info.min || n > info.max) {
    return Status::InvalidArgument(
               fmt::format("{} is between {} and {}, not {}", info.key, info.min, info.max, n))
        .WithField("value");
  }
  return n;
}

int64_t EngineSettingValue(const std::vector<EngineSetting>& stored, std::string_view key) {
  const EngineSettingInfo* info = FindEngineSetting(key);
  if (info == nullptr) return 0;
  for (const auto& s : stored) {
    if (s.key != key) continue;
    auto v = ParseEngineSetting(*info, s.value);
    if (v.ok()) return *v;
  }
  return info->default_value;
}

}  // namespace georep
