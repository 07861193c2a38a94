// The replication engine over ssh: a destination behind a real sshd on loopback, and the pipes
// contract a worker run over ssh keeps with `georep worker-link`.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "host/ssh_transport.h"
#include "integration/replication_fixtures.h"
#include "integration/sshd_server.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::DescribeTree;
using replication::testing::GeorepTempFiles;
using replication::testing::ReadFile;

// A destination behind a real sshd on loopback, reached through the session's ssh command.
TEST(Replication, ToADestinationOverSsh) {
  TempDir src, dst, state, keys, sshd_dir;
  LocalCommandRunner local;
  auto id = SshIdentity::LoadOrCreate(local, keys.path());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  SshServer sshd(sshd_dir.path());
  ASSERT_TRUE(sshd.Start(id->public_key)) << sshd.error();
  ASSERT_NO_FATAL_FAILURE(MakeRichTree(src.path()));
  const std::string ssh = "ssh -i " + id->private_key_path +
                          " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null";
  WorkerRun w{src.path(),
              "root@127.0.0.1::" + dst.path() + "/sub dir",
              state.path(),
              {"--ssh-command", ssh, "--ssh-port", std::to_string(sshd.port()), "--remote-command",
               GeorepBinary() + " agent", "--compress"}};
  auto r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err << ReadFile(state.path() + "/agent.log");
  EXPECT_EQ(DescribeTree(dst.path() + "/sub dir"), DescribeTree(src.path()));

  // The destination goes away: the worker says why and fails; back, it converges.
  sshd.Stop();
  Write(src.path() + "/while-away", "later");
  r = w.Once();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("agent"), std::string::npos) << r.err;
  ASSERT_TRUE(sshd.Start(id->public_key)) << sshd.error();
  w.extra[3] = std::to_string(sshd.port());
  r = w.Once();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(DescribeTree(dst.path() + "/sub dir"), DescribeTree(src.path()));
}

// A worker with the pipes ssh gives a command: its stdin and stdout are pipes to this test,
// which stands where `georep worker-link` stands.
struct PipedWorker {
  pid_t pid = -1;
  int to = -1;    // its stdin
  int from = -1;  // its stdout
};

PipedWorker StartPiped(std::vector<std::string> argv) {
  int in[2], out[2];
  PipedWorker w;
  if (::pipe(in) != 0 || ::pipe(out) != 0) return w;
  w.pid = ::fork();
  if (w.pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  w.to = in[1];
  w.from = out[0];
  return w;
}

// The next line from `fd` ("" after `seconds`, or at its end).
std::string ReadLineFrom(int fd, int seconds) {
  std::string line;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char c;
    if (::read(fd, &c, 1) != 1) return "";
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

// The worker's exit code, waiting at most `seconds` (then it is killed: -1).
int ExitWithin(pid_t pid, int seconds) {
  int status = 0;
  for (int i = 0; i < seconds * 20; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// What `georep worker-link` relies on in a worker it runs over ssh: a status line on stdout for
// each update; a clean stop when its stdin ends (the link stopped, or died); and a stop when its
// status can no longer be written (whoever read it is gone).
TEST(Replication, AWorkerRunOverSshReportsOnStdoutAndStopsWhenEitherPipeEnds) {
  TempDir src, dst, state;
  Write(src.path() + "/a.txt", "alpha\n");
  const auto argv =
      WorkerArgv(src.path(), dst.path(), state.path(), {"--status-stdout", "--stop-on-stdin-eof"});

  PipedWorker w = StartPiped(argv);
  ASSERT_GT(w.pid, 0);
  bool live = false;
  for (int i = 0; i < 100 && !live; ++i) {
    const std::string line = ReadLineFrom(w.from, 30);
    ASSERT_FALSE(line.empty()) << "no status line within 30 s";
    auto status = replication::StatusFromJson(line);
    ASSERT_TRUE(status.ok()) << "not a status: " << line;
    live = status->crawl == "Changelog Crawl";
  }
  ASSERT_TRUE(live);
  EXPECT_EQ(ReadFile(dst.path() + "/a.txt"), "alpha\n");
  ::close(w.to);  // as ssh does when the link ends
  EXPECT_EQ(ExitWithin(w.pid, 15), 0);
  ::close(w.from);
  EXPECT_NE(ReadFile(state.path() + "/worker.log").find("stdin ended"), std::string::npos);

  // The reader goes: the next status line (a change's, or the 5 s heartbeat) cannot be written.
  w = StartPiped(argv);
  ASSERT_GT(w.pid, 0);
  ASSERT_FALSE(ReadLineFrom(w.from, 30).empty());
  ::close(w.from);
  Write(src.path() + "/b.txt", "beta\n");
  EXPECT_EQ(ExitWithin(w.pid, 20), 0);
  ::close(w.to);
  EXPECT_NE(ReadFile(state.path() + "/worker.log").find("the status reader is gone"),
            std::string::npos);
}

}  // namespace
}  // namespace georep::testing
