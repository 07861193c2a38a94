#include "model/session_lifecycle.h"

#include <fmt/format.h>

#include "model/names.h"

namespace georep {

std::string_view Name(SessionAction a) {
  switch (a) {
    case SessionAction::kStart:
      return "start";
    case SessionAction::kStop:
      return "stop";
    case SessionAction::kPause:
      return "pause";
    case SessionAction::kResume:
      return "resume";
    case SessionAction::kDelete:
      return "delete";
  }
  return "unknown";
}

Status CheckSessionAction(SessionStatus s, SessionAction action, bool force) {
  using S = SessionStatus;
  const bool not_started = s == S::kCreated || s == S::kStopped;
  auto refuse = [&](std::string_view why) {
    return Status::FailedPrecondition(
        fmt::format("cannot {} a session that is {}: {}", Name(action), Name(s), why));
  };
  switch (action) {
    case SessionAction::kStart:
      if (not_started) return Status::Ok();
      if (s == S::kPaused) return refuse("resume it instead");
      return force ? Status::Ok()
                   : refuse("it is already started (use force to restart its workers)");
    case SessionAction::kStop:
      if (!not_started) return Status::Ok();
      return force ? Status::Ok() : refuse("it is not started");
    case SessionAction::kPause:
      if (s == S::kPaused) return refuse("it is already paused");
      if (not_started) return refuse("it is not started");
      return Status::Ok();
    case SessionAction::kResume:
      if (s == S::kPaused) return Status::Ok();
      return refuse("it is not paused");
    case SessionAction::kDelete:
      if (not_started || force) return Status::Ok();
      return refuse("stop it first, or use force");
  }
  return Status::Internal("unknown action");
}

}  // namespace georep
