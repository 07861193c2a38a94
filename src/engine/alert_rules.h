// The alert rules (model/alerts.h names them) as one pure function each: what is wrong with a
// session or a destination now, given what the engine knows of it. No store, no clock: the
// caller (AlertManager) reads the inputs and compares the conditions with the alerts firing.
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/operation_types.h"
#include "model/alerts.h"
#include "model/entities.h"

namespace georep {

// A rule's condition holding for an object now.
struct AlertCondition {
  std::string rule;
  std::string object_type;  // "session" or "destination"
  std::string object_id;
  std::string object_name;
  std::string summary;
};

// What the session rules read beside the session itself.
struct SessionAlertInput {
  const SessionDetail* detail = nullptr;
  int64_t lag_threshold_ms = 0;         // lag-high: 0 off
  int64_t checkpoint_timeout_ms = 0;    // checkpoint-overdue: 0 off
  int64_t checkpoint_ms = 0;            // the checkpoint set (its time); 0: none
  int64_t checkpoint_set_at = 0;        // when it was set
  int disk_percent = 0;                 // destination-disk-full: 0 off
  int64_t destination_used_bytes = -1;  // -1: unknown
  int64_t destination_size_bytes = -1;  // -1: unknown
};

// Every session rule's condition that holds for the session at `now`.
std::vector<AlertCondition> SessionConditions(const SessionAlertInput& in, int64_t now);

// The destination rule's condition, when it holds.
std::vector<AlertCondition> DestinationConditions(const Destination& d);

// "45 s", "12 min", "3 h 5 min", "2 d 4 h": for people, to the unit that matters.
std::string HumanDuration(int64_t ms);

}  // namespace georep
