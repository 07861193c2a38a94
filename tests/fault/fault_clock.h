// The fault harness's clocks: the steady clock for its bounds, the wall clock the worker's
// status speaks in, and the pause between a round's steps.
#pragma once

#include <chrono>
#include <cstdint>

namespace georep::fault {

using Clock = std::chrono::steady_clock;

// Milliseconds since the epoch: the worker's status.json speaks in them.
int64_t WallMs();

double SecondsSince(Clock::time_point t);

// The pause between a round's steps (the writer's pace; never a wait for an event).
void SleepMs(int ms);

}  // namespace georep::fault
