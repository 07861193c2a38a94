#include "engine/alert_payload.h"

#include <fmt/format.h>
#include <sodium.h>

#include "base/clock.h"

namespace georep {
namespace {

nlohmann::json Time(int64_t ms) {
  return ms == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatIsoMillis(ms));
}

}  // namespace

nlohmann::json AlertJson(const Alert& a) {
  const AlertRule* rule = FindAlertRule(a.rule);
  return {{"id", a.id},
          {"rule", a.rule},
          {"description", rule != nullptr ? std::string(rule->description) : ""},
          {"severity", Name(a.severity)},
          {"state", Name(a.state)},
          {"object_type", a.object_type},
          {"object_id", a.object_id},
          {"object_name", a.object_name},
          {"summary", a.summary},
          {"started_at", Time(a.started_at)},
          {"updated_at", Time(a.updated_at)},
          {"resolved_at", Time(a.resolved_at)},
          {"acknowledged_at", Time(a.acknowledged_at)},
          {"acknowledged_by", a.acknowledged_by}};
}

std::string WebhookBody(const Alert& a, std::string_view event) {
  return nlohmann::json{{"version", 1}, {"event", event}, {"alert", AlertJson(a)}}.dump();
}

std::string WebhookTestBody(std::string_view notifier_name, int64_t now_ms) {
  return nlohmann::json{{"version", 1},
                        {"event", "test"},
                        {"message", fmt::format("a test of notifier {} from georep at {}",
                                                notifier_name, FormatIsoMillis(now_ms))}}
      .dump();
}

std::string WebhookSignature(std::string_view secret, int64_t timestamp_s, std::string_view body) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  const std::string prefix = fmt::format("{}.", timestamp_s);
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(prefix.data()),
                                prefix.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[sizeof mac * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string("sha256=") + hex;
}

std::string MailSubject(const Alert& a, std::string_view event) {
  if (event == "resolved") return fmt::format("[georep] resolved: {} on {}", a.rule, a.object_name);
  return fmt::format("[georep] {}: {} on {}", Name(a.severity), a.rule, a.object_name);
}

std::string MailText(const Alert& a, std::string_view event) {
  const AlertRule* rule = FindAlertRule(a.rule);
  std::string out = fmt::format("{} {} {}: {}\n\n{}\n\n", a.object_type, a.object_name,
                                event == "resolved" ? "is no longer" : "is now", a.rule, a.summary);
  if (rule != nullptr) out += fmt::format("{}\n\n", rule->description);
  out += fmt::format("Alert {} ({}), started {}", a.id, Name(a.severity),
                     FormatIsoMillis(a.started_at));
  if (a.resolved_at != 0) out += fmt::format(", resolved {}", FormatIsoMillis(a.resolved_at));
  out += ".\n";
  return out;
}

}  // namespace georep
