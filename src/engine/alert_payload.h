// What an alert looks like outside the engine, said once: its JSON (the REST API's Alert and
// the webhook's "alert" are the same object), the webhook's body and signature, and the
// e-mail's subject and text.
//
// A webhook request carries:
//   X-Georep-Event: firing | resolved | test
//   X-Georep-Delivery: the delivery's id (the same on every retry: receivers de-duplicate)
//   X-Georep-Timestamp: Unix seconds when this attempt was signed
//   X-Georep-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>
// A receiver recomputes the signature, compares it in constant time, and refuses a timestamp
// more than a few minutes old (a replay). Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "model/alerts.h"

namespace georep {

nlohmann::json AlertJson(const Alert& a);

// {"version": 1, "event": ..., "alert": AlertJson}; a test has "message" instead of "alert".
std::string WebhookBody(const Alert& a, std::string_view event);
std::string WebhookTestBody(std::string_view notifier_name, int64_t now_ms);

// The value of X-Georep-Signature, "sha256=" and 64 hex digits.
std::string WebhookSignature(std::string_view secret, int64_t timestamp_s, std::string_view body);

std::string MailSubject(const Alert& a, std::string_view event);
std::string MailText(const Alert& a, std::string_view event);

}  // namespace georep
