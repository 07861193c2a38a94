// Clock: the one seam for time. Production code takes a Clock&; tests pass a FakeClock.
// Wall time (for records shown to people) and monotonic time (for time-outs) are kept apart.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace georep {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t NowMillis() = 0;
  // Monotonic milliseconds, for measuring intervals only.
  virtual int64_t MonotonicMillis() = 0;
  // Waits (a back-off between retries).
  virtual void Sleep(int64_t millis) = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() override;
  int64_t MonotonicMillis() override;
  void Sleep(int64_t millis) override;
};

// Thread-safe fake: time moves only when a test says so.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() override { return now_.load(); }
  int64_t MonotonicMillis() override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }
  void Sleep(int64_t millis) override { Advance(millis); }  // never blocks

 private:
  std::atomic<int64_t> now_;
};

// "2026-11-25T12:03:17.123Z"; empty for 0 (never).
std::string FormatIsoMillis(int64_t epoch_millis);

// A file time to the nanosecond, UTC: "2026-11-25T12:03:17.123456789Z" (0 is the epoch itself,
// and times before it are written as the dates they are).
std::string FormatIsoNanos(int64_t epoch_nanos);

}  // namespace georep
