// Subprocess with real small programs: exit codes and signals, captured output, stdin, the
// time-out and kill, a program that cannot be started, the environment, process groups and
// sessions, and that no descriptor of this process leaks into the child.
#include "base/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace georep {
namespace {

using std::chrono::milliseconds;

// Reads `fd` to its end.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

SubprocessOptions Shell(const std::string& script) {
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.out = StdioSpec::Pipe();
  return o;
}

TEST(Subprocess, ReportsAZeroExit) {
  SubprocessOptions o;
  o.argv = {"/bin/true"};
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const ExitStatus s = p->Wait();
  EXPECT_TRUE(s.success());
  EXPECT_EQ(s.ShellCode(), 0);
  EXPECT_EQ(s.Describe(), "exited with 0");
}

TEST(Subprocess, ReportsAnExitCode) {
  auto p = Subprocess::Start(Shell("exit 3"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const ExitStatus s = p->Wait();
  EXPECT_TRUE(s.exited());
  EXPECT_FALSE(s.success());
  EXPECT_EQ(s.exit_code(), 3);
  EXPECT_EQ(s.ShellCode(), 3);
  EXPECT_EQ(s.Describe(), "exited with 3");
}

TEST(Subprocess, ReportsTheSignalThatEndedIt) {
  auto p = Subprocess::Start(Shell("kill -TERM $$"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const ExitStatus s = p->Wait();
  ASSERT_TRUE(s.signaled());
  EXPECT_EQ(s.signal(), SIGTERM);
  EXPECT_EQ(s.ShellCode(), 128 + SIGTERM);
  EXPECT_EQ(s.Describe(), std::string("was killed by signal ") + strsignal(SIGTERM));
}

TEST(Subprocess, CapturesStdoutAndStderrApart) {
  SubprocessOptions o = Shell("printf out; printf err >&2");
  o.err = StdioSpec::Pipe();
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(ReadAll(p->stdout_fd()), "out");
  EXPECT_EQ(ReadAll(p->stderr_fd()), "err");
  EXPECT_TRUE(p->Wait().success());
}

TEST(Subprocess, FeedsStdinThroughAPipe) {
  SubprocessOptions o;
  o.argv = {"cat"};  // found in PATH
  o.in = StdioSpec::Pipe();
  o.out = StdioSpec::Pipe();
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(::write(p->stdin_fd(), "hello\n", 6), 6);
  p->CloseStdin();
  EXPECT_EQ(ReadAll(p->stdout_fd()), "hello\n");
  EXPECT_TRUE(p->Wait().success());
}

TEST(Subprocess, NullStdinReadsNothing) {
  SubprocessOptions o;
  o.argv = {"cat"};
  o.out = StdioSpec::Pipe();
  auto p = Subprocess::Start(o);  // stdin is /dev/null unless asked otherwise
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(ReadAll(p->stdout_fd()), "");
  EXPECT_TRUE(p->Wait().success());
}

TEST(Subprocess, WritesToAGivenDescriptor) {
  char path[] = "/tmp/georep-subprocess-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  SubprocessOptions o = Shell("printf logged; printf too >&2");
  o.out = StdioSpec::Fd(fd);
  o.err = StdioSpec::Fd(fd);
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->Wait().success());
  ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(ReadAll(fd), "loggedtoo");
  ::close(fd);
}

TEST(Subprocess, WaitForTimesOutAndKillEndsIt) {
  SubprocessOptions o;
  o.argv = {"sleep", "60"};
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->WaitFor(milliseconds(50)).has_value());
  EXPECT_FALSE(p->TryWait().has_value());
  const ExitStatus s = p->Kill();
  ASSERT_TRUE(s.signaled());
  EXPECT_EQ(s.signal(), SIGKILL);
  EXPECT_EQ(s.ShellCode(), 128 + SIGKILL);
}

TEST(Subprocess, WaitForReturnsWhenItEnds) {
  auto p = Subprocess::Start(Shell("exit 7"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto s = p->WaitFor(milliseconds(60'000));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->exit_code(), 7);
}

TEST(Subprocess, ExitFdBecomesReadableAtTheEnd) {
  SubprocessOptions o;
  o.argv = {"sleep", "60"};
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  if (p->exit_fd() < 0) GTEST_SKIP() << "no pidfd on this kernel";
  pollfd pfd{p->exit_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0);
  p->Signal(SIGTERM);
  EXPECT_EQ(::poll(&pfd, 1, 60'000), 1);
  EXPECT_EQ(p->Wait().signal(), SIGTERM);
}

TEST(Subprocess, AwaitEndLeavesItUnreaped) {
  auto p = Subprocess::Start(Shell("exit 5"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(p->AwaitEnd(milliseconds(60'000)));
  // Still a zombie, so its pid is still its own.
  EXPECT_EQ(::kill(p->pid(), 0), 0);
  auto s = p->TryWait();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->exit_code(), 5);
}

TEST(Subprocess, AMissingProgramIsAClearError) {
  SubprocessOptions o;
  o.argv = {"/nonexistent/georep-program", "x"};
  auto p = Subprocess::Start(o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(p.status().message(),
            "cannot start /nonexistent/georep-program: No such file or directory");

  o.argv = {"georep-no-such-program-in-path"};
  p = Subprocess::Start(o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
}

TEST(Subprocess, AnEmptyArgvIsRefused) {
  auto p = Subprocess::Start(SubprocessOptions{});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
}

TEST(Subprocess, NoDescriptorLeaksIntoTheChild) {
  // A descriptor without close-on-exec, as a library might leave one.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  ASSERT_EQ(::dup2(leaky, 100), 100);
  ::close(leaky);
  // `; true`: the shell stays (it would exec ls, a last command), and ls lists its fds.
  auto p = Subprocess::Start(Shell("ls /proc/$$/fd; true"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const std::string fds = ReadAll(p->stdout_fd());
  EXPECT_TRUE(p->Wait().success());
  ::close(100);
  EXPECT_EQ(fds, "0\n1\n2\n");
}

TEST(Subprocess, ExtraEnvironmentReplacesThisProcesssValue) {
  ASSERT_EQ(::setenv("GEOREP_SUBPROCESS_TEST", "parent", 1), 0);
  SubprocessOptions o;
  o.argv = {"env"};  // the environment as the child has it, duplicates and all
  o.out = StdioSpec::Pipe();
  o.extra_env = {"GEOREP_SUBPROCESS_TEST=child", "GEOREP_ADDED=yes"};
  auto p = Subprocess::Start(o);
  ::unsetenv("GEOREP_SUBPROCESS_TEST");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const std::string env = "\n" + ReadAll(p->stdout_fd());
  EXPECT_TRUE(p->Wait().success());
  EXPECT_NE(env.find("\nGEOREP_SUBPROCESS_TEST=child\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("\nGEOREP_SUBPROCESS_TEST=parent\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nGEOREP_ADDED=yes\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nPATH="), std::string::npos) << env;  // the rest is kept
}

// Fields 5 and 6 of /proc/PID/stat: the process group and the session ("sh" has no space).
std::string GroupAndSession(bool new_group, bool new_session, pid_t* pid) {
  SubprocessOptions o = Shell("read -r line < /proc/$$/stat; set -- $line; printf '%s %s' $5 $6");
  o.new_process_group = new_group;
  o.new_session = new_session;
  auto p = Subprocess::Start(o);
  if (!p.ok()) return p.status().ToString();
  *pid = p->pid();
  std::string out = ReadAll(p->stdout_fd());
  (void)p->Wait();
  return out;
}

TEST(Subprocess, StartsANewProcessGroupOrSession) {
  pid_t pid = 0;
  const std::string session = std::to_string(::getsid(0));
  std::string got = GroupAndSession(false, false, &pid);
  EXPECT_EQ(got, std::to_string(::getpgrp()) + " " + session);
  got = GroupAndSession(true, false, &pid);
  EXPECT_EQ(got, std::to_string(pid) + " " + session);
  got = GroupAndSession(false, true, &pid);
  EXPECT_EQ(got, std::to_string(pid) + " " + std::to_string(pid));
}

TEST(Subprocess, SignalGroupReachesTheGrandchildren) {
  // The shell starts a grandchild and waits; the group signal ends both, so stdout (held by
  // the grandchild too) reaches its end before the grandchild could say "late".
  SubprocessOptions o = Shell("(sleep 60; echo late) & echo started; wait");
  o.new_process_group = true;
  auto p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  char line[8] = {};
  ASSERT_EQ(::read(p->stdout_fd(), line, 8), 8);
  EXPECT_EQ(std::string(line, 8), "started\n");
  p->SignalGroup(SIGKILL);
  EXPECT_EQ(ReadAll(p->stdout_fd()), "");
  EXPECT_EQ(p->Wait().signal(), SIGKILL);
}

TEST(Subprocess, TheDestructorKillsAndReapsARunningChild) {
  pid_t pid = 0;
  {
    SubprocessOptions o;
    o.argv = {"sleep", "60"};
    auto p = Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pid = p->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace georep
