#include "model/session_lifecycle.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

using A = SessionAction;
using S = SessionStatus;

TEST(SessionLifecycle, Table) {
  struct Case {
    S status;
    A action;
    bool force;
    bool ok;
  } cases[] = {
      {S::kCreated, A::kStart, false, true},     {S::kStopped, A::kStart, false, true},
      {S::kActive, A::kStart, false, false},     {S::kFaulty, A::kStart, true, true},
      {S::kPaused, A::kStart, true, false},      {S::kActive, A::kStop, false, true},
      {S::kFaulty, A::kStop, false, true},       {S::kCreated, A::kStop, false, false},
      {S::kStopped, A::kStop, true, true},       {S::kActive, A::kPause, false, true},
      {S::kPaused, A::kPause, false, false},     {S::kStopped, A::kPause, true, false},
      {S::kPaused, A::kResume, false, true},     {S::kActive, A::kResume, false, false},
      {S::kCreated, A::kDelete, false, true},    {S::kStopped, A::kDelete, false, true},
      {S::kActive, A::kDelete, false, false},    {S::kActive, A::kDelete, true, true},
      {S::kInitializing, A::kStop, false, true}, {S::kPartialFaulty, A::kPause, false, true},
  };
  for (const auto& c : cases) {
    Status st = CheckSessionAction(c.status, c.action, c.force);
    EXPECT_EQ(st.ok(), c.ok) << Name(c.action) << " from " << static_cast<int>(c.status)
                             << (c.force ? " (force)" : "") << ": " << st.message();
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(st.message().find(std::string(Name(c.action))), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace georep
