#include "base/clock.h"

#include <gtest/gtest.h>

namespace georep {
namespace {

// Checked against `date -u -d @1796550263.384`.
TEST(FormatIso, MillisecondsAndNanosecondsInUtc) {
  EXPECT_EQ(FormatIsoMillis(0), "");  // never
  EXPECT_EQ(FormatIsoMillis(1'796'550'263'384), "2026-12-06T09:44:23.384Z");
  EXPECT_EQ(FormatIsoNanos(1'796'550'263'384'010'813), "2026-12-06T09:44:23.384010813Z");
  EXPECT_EQ(FormatIsoNanos(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatIsoNanos(5), "1970-01-01T00:00:00.000000005Z");
  // Before the epoch: the instant it is, not a negative fraction.
  EXPECT_EQ(FormatIsoNanos(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatIsoNanos(-1'000'000'000), "1969-12-31T23:59:59.000000000Z");
}

}  // namespace
}  // namespace georep
