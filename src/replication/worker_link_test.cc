#include "replication/worker_link.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "base/clock.h"
#include "replication/replicator.h"
#include "replication/test_util.h"

namespace georep::replication {
namespace {

using testing::ReadFile;
using testing::TempDir;

// The remote end is a bash script here, standing where `ssh HOST georep worker` stands.
WorkerLinkOptions Remote(const TempDir& dir, const std::string& script) {
  WorkerLinkOptions o;
  o.argv = {"/bin/bash", "-c", script, "remote", dir.path()};
  o.state_dir = dir.path();
  o.where = "root@source1";
  o.stop_grace_s = 10;
  return o;
}

TEST(WorkerLink, StatusLinesBecomeStatusJsonStampedOnArrivalAndStopEndsTheWorkerCleanly) {
  TempDir dir;
  // A status from a source host whose clock is far behind; a line that is no status; then
  // the worker waits for its stdin to end, and says it saw that.
  const std::string script =
      R"(echo '{"state":"Active","crawl":"Changelog Crawl","last_synced_ms":5,"updated_ms":1}'
         echo 'Welcome to source1'
         read -r _ || true
         echo stopped-on-eof > "$1/remote-ended")";
  std::atomic<bool> stop{false};
  auto link =
      std::async(std::launch::async, [&] { return RunWorkerLink(Remote(dir, script), stop); });
  Result<WorkerStatus> status = Status::NotFound("");
  for (int i = 0; i < 500 && !status.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = ReadWorkerStatus(dir.path());
  }
  ASSERT_TRUE(status.ok()) << "no status.json was written";
  EXPECT_EQ(status->state, "Active");
  EXPECT_EQ(status->crawl, "Changelog Crawl");
  EXPECT_EQ(status->last_synced_ms, 5);
  SystemClock clock;
  EXPECT_GT(status->updated_ms, clock.NowMillis() - 60000) << "the remote clock's time was kept";
  EXPECT_EQ(link.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the link ended while the worker runs";

  stop.store(true);
  ASSERT_EQ(link.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Status ended = link.get();
  EXPECT_TRUE(ended.ok()) << ended.ToString();
  EXPECT_EQ(ReadFile(dir.path() + "/remote-ended"), "stopped-on-eof\n");
  EXPECT_NE(ReadFile(dir.path() + "/worker.log").find("Welcome to source1"), std::string::npos);
}

TEST(WorkerLink, AnUnreachableSourceHostIsSaidSo) {
  TempDir dir;
  std::atomic<bool> stop{false};
  Status st = RunWorkerLink(
      Remote(dir, "echo 'ssh: connect to host 10.0.0.9 port 22: Connection refused' >&2; exit 255"),
      stop);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "cannot reach the source host root@source1 over ssh: ssh: connect to host 10.0.0.9 "
            "port 22: Connection refused");
  // worker.log keeps it too: the supervisor reads a down worker's reason there.
  EXPECT_NE(ReadFile(dir.path() + "/worker.log").find("Connection refused"), std::string::npos);
}

TEST(WorkerLink, AWorkerKilledOnItsHostIsNotAnUnreachableHost) {
  // ssh exits 255 too when the remote command dies by a signal.
  TempDir dir;
  std::atomic<bool> stop{false};
  Status st = RunWorkerLink(Remote(dir, "echo 'pass started' >&2; exit 255"), stop);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "the worker on root@source1 ended abnormally (ssh exited with 255): pass started");
}

TEST(WorkerLink, AFailedRemoteWorkerGivesItsOwnReason) {
  TempDir dir;
  std::atomic<bool> stop{false};
  Status st = RunWorkerLink(
      Remote(dir, "echo 'georep worker: cannot read /srv/data: No such file' >&2; exit 1"), stop);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "the worker on root@source1 exited with 1: georep worker: cannot read /srv/data: No "
            "such file");
}

TEST(WorkerLink, AWorkerThatEndsByItselfIsNotAStop) {
  TempDir dir;
  std::atomic<bool> stop{false};
  Status st = RunWorkerLink(Remote(dir, "exit 0"), stop);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "the worker on root@source1 stopped");
}

}  // namespace
}  // namespace georep::replication
