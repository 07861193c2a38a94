// Which session actions are valid in which session states -- gluster's own rules, checked
// before anything is sent to a cluster so that the operator gets a clear reason.
#pragma once

#include <string_view>

#include "base/status.h"
#include "model/entities.h"

namespace georep {

enum class SessionAction { kStart, kStop, kPause, kResume, kDelete };

std::string_view Name(SessionAction a);

// OK when `action` may run on a session in `status`; FailedPrecondition saying why not.
// `force` allows what gluster's "force" allows: start of a started (e.g. Faulty) session, stop
// or delete in any state.
Status CheckSessionAction(SessionStatus status, SessionAction action, bool force);

}  // namespace georep
