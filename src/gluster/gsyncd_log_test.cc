#include "gluster/gsyncd_log.h"

#include <gtest/gtest.h>

#include "gluster/test_support/testdata.h"

namespace georep {
namespace {

using testing_support::Fixture;

const char* kSrc1Brick = "/var/tmp/grgc/src1/bricks/gv0";

TEST(GsyncdLog, AnUnreachableDestinationIsWhatSshSaid) {
  // Recorded on the lab: gsyncd's retries, each "connection to peer is broken", the whole ssh
  // command line, then ssh's own words.
  auto r = GsyncdFailureReason(Fixture("gsyncd-no-route.log"), kSrc1Brick);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->time, "2026-12-06 15:18:17");
  EXPECT_EQ(r->words, "ssh: connect to host 10.77.0.11 port 22: No route to host");
}

TEST(GsyncdLog, ACutConnectionIsTheWorkersOwnError) {
  // The connection killed: no "ssh>" words; the command line it repeats is left out.
  auto r = GsyncdFailureReason(Fixture("gsyncd-connection-broken.log"), kSrc1Brick);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->time, "2026-12-06 15:15:57");
  EXPECT_EQ(r->words, "connection to peer is broken");
}

TEST(GsyncdLog, OnlyTheBricksOwnWorkerAndTheMonitorCount) {
  const std::string log =
      "[2026-12-06 10:00:00.1] E [syncdutils(worker /b/other):1:f] Popen: ssh> ssh: other\n"
      "[2026-12-06 10:00:01.1] I [monitor(monitor):1:f] Monitor: starting [{brick=/b/one}]\n";
  EXPECT_FALSE(GsyncdFailureReason(log, "/b/on").has_value());
  auto r = GsyncdFailureReason(log, "/b/one");
  ASSERT_TRUE(r.has_value());  // no error of its own: the monitor's last word on it
  EXPECT_EQ(r->words, "starting [{brick=/b/one}]");
  EXPECT_FALSE(GsyncdFailureReason("", "/b/one").has_value());
  EXPECT_FALSE(GsyncdFailureReason("no gsyncd here\n[broken", "/b/one").has_value());
}

TEST(GsyncdLog, AnEarlierAttemptsErrorsAreOldNews) {
  const std::string log =
      "[2026-12-06 10:00:00.1] E [syncdutils(worker /b):1:f] Popen: ssh> ssh: Connection refused\n"
      "[2026-12-06 10:00:05.1] I [resource(worker /b):1:f] SSH: Initializing SSH connection\n"
      "[2026-12-06 10:00:06.1] E [syncdutils(worker /b):1:f] <top>: FAIL: \n"
      "Traceback (most recent call last):\n"
      "  File \"/usr/libexec/glusterfs/python/syncdaemon/gsyncd.py\", line 325, in main\n"
      "OSError: [Errno 107] Transport endpoint is not connected\n"
      "[2026-12-06 10:00:06.2] I [monitor(monitor):1:f] Monitor: worker died [{brick=/b}]\n";
  auto r = GsyncdFailureReason(log, "/b");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->time, "2026-12-06 10:00:06");
  EXPECT_EQ(r->words, "OSError: [Errno 107] Transport endpoint is not connected");
}

TEST(GsyncdLog, TheMonitorsErrorsStopEveryWorker) {
  const std::string log =
      "[2026-12-06 10:00:00.1] I [resource(worker /b):1:f] SSH: Initializing\n"
      "[2026-12-06 10:00:02.1] E [syncdutils(monitor):1:f] <top>: Session config file not "
      "exists\n";
  auto r = GsyncdFailureReason(log, "/b");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->words, "Session config file not exists");
}

TEST(GsyncdLog, TheReasonIsOneBoundedLine) {
  std::string log = "[2026-12-06 10:00:00.1] E [syncdutils(worker /b):1:f] Popen: ssh> \x1b[31m";
  log += std::string(500, 'x') + "\r\n";
  auto r = GsyncdFailureReason(log, "/b", 100);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->words.size(), 100u);
  EXPECT_EQ(r->words.substr(0, 6), "[31mxx");
  EXPECT_EQ(r->words.substr(97), "...");
  EXPECT_EQ(OneLine("a\tb\n\n c\x7f \xc2\x85 d \xff\xe2\x82", 100), "a b c d");
  EXPECT_EQ(OneLine("\xc3\xa9t\xc3\xa9 \xe2\x82\xac", 100), "\xc3\xa9t\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(OneLine("\xc3\xa9\xc3\xa9\xc3\xa9", 5), "\xc3\xa9...");  // never half a character
  EXPECT_EQ(OneLine("\xc3\xa9\xc3\xa9\xc3\xa9", 6), "\xc3\xa9\xc3\xa9\xc3\xa9");
  EXPECT_EQ(OneLine("abcdef", 2), "ab");
}

}  // namespace
}  // namespace georep
