#include "base/clock.h"

#include <fmt/format.h>

#include <ctime>
#include <thread>

namespace georep {

int64_t SystemClock::NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t SystemClock::MonotonicMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void SystemClock::Sleep(int64_t millis) {
  std::this_thread::sleep_for(std::chrono::milliseconds(millis));
}

std::string FormatIsoMillis(int64_t epoch_millis) {
  if (epoch_millis == 0) return "";
  time_t secs = static_cast<time_t>(epoch_millis / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, epoch_millis % 1000);
}

std::string FormatIsoNanos(int64_t epoch_nanos) {
  constexpr int64_t kPerSecond = 1'000'000'000;
  int64_t secs = epoch_nanos / kPerSecond;
  int64_t nanos = epoch_nanos % kPerSecond;
  if (nanos < 0) {  // floor, so that -1 ns is 23:59:59.999999999 of the day before
    nanos += kPerSecond;
    --secs;
  }
  const auto t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}

}  // namespace georep
