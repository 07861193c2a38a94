#include "host/command_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace georep {
namespace {

using namespace std::chrono_literals;

TEST(LocalCommandRunner, CapturesOutputExitCodeAndStdin) {
  LocalCommandRunner runner;
  auto r = runner.Run({{"/bin/sh", "-c", "cat; echo to-err >&2; exit 3"}, "from stdin\n"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "from stdin\n");
  EXPECT_EQ(r->err, "to-err\n");
  EXPECT_FALSE(r->timed_out);
}

TEST(LocalCommandRunner, ArgumentsAreNeverInterpretedByAShell) {
  const std::string marker = "/tmp/georep-runner-" + std::to_string(::getpid());
  LocalCommandRunner runner;
  auto r = runner.Run({{"/bin/echo", "$(touch " + marker + ")", "a;b", "'q'"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "$(touch " + marker + ") a;b 'q'\n");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(LocalCommandRunner, ExtraEnvironmentReplacesTheEnginesValue) {
  ASSERT_EQ(::setenv("GEOREP_RUNNER_TEST", "engine", 1), 0);
  LocalCommandRunner runner;
  CommandSpec spec{{"env"}};
  spec.extra_env = {"GEOREP_RUNNER_TEST=command"};
  auto r = runner.Run(spec);
  ::unsetenv("GEOREP_RUNNER_TEST");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->out.find("GEOREP_RUNNER_TEST=command\n"), std::string::npos) << r->out;
  EXPECT_EQ(r->out.find("GEOREP_RUNNER_TEST=engine"), std::string::npos) << r->out;
}

TEST(LocalCommandRunner, ASignalIsAnExitCodeOver128) {
  LocalCommandRunner runner;
  auto r = runner.Run({{"/bin/sh", "-c", "kill -KILL $$"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 128 + SIGKILL);
}

TEST(LocalCommandRunner, TimeOutKillsTheWholeProcessGroup) {
  LocalCommandRunner runner;
  CommandSpec spec{{"/bin/sh", "-c", "sleep 30 & sleep 30; echo never"}};
  spec.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->out, "");
  // Bounded by the time-out plus the one-second grace, not by the 30 s sleeps.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(LocalCommandRunner, CancelEndsTheCommandLongBeforeItsTimeOut) {
  LocalCommandRunner runner;
  std::atomic<bool> cancel{false};
  const std::string started =
      (std::filesystem::temp_directory_path() / ("georep-cancel-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(started);
  CommandSpec spec{
      {"/bin/sh", "-c", "touch \"$1\"; sleep 30 & sleep 30; echo never", "sh", started}};
  spec.timeout = 60s;
  spec.cancel = &cancel;
  auto start = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    // Cancelled once it runs (bounded: the command is ended at its time-out anyway).
    for (int i = 0; i < 500 && !std::filesystem::exists(started); ++i)
      std::this_thread::sleep_for(20ms);
    cancel = true;
  });
  auto r = runner.Run(spec);
  canceller.join();
  std::filesystem::remove(started);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->out, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);

  // Not set: the command runs to its end.
  cancel = false;
  CommandSpec quick{{"/bin/echo", "done"}};
  quick.cancel = &cancel;
  auto done = runner.Run(quick);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->cancelled);
  EXPECT_EQ(done->out, "done\n");
}

TEST(LocalCommandRunner, OutputIsBounded) {
  LocalCommandRunner runner;
  CommandSpec spec{{"/bin/sh", "-c", "head -c 100000 /dev/zero"}};
  spec.max_output_bytes = 1000;
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 1000u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->exit_code, 0);  // the rest was read and dropped, so the writer did not block
}

TEST(LocalCommandRunner, MissingProgramIsNotFound) {
  LocalCommandRunner runner;
  auto r = runner.Run({{"/nonexistent/georep-tool"}});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/georep-tool"), std::string::npos);
}

TEST(LocalCommandRunner, ChildThatIgnoresStdinDoesNotKillUs) {
  LocalCommandRunner runner;
  CommandSpec spec{{"/bin/true"}, std::string(1 << 20, 'x')};
  auto r = runner.Run(spec);  // EPIPE, not SIGPIPE
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST(ShellQuote, QuotesEverything) {
  EXPECT_EQ(ShellQuote("plain"), "'plain'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\"'\"'s'");
  EXPECT_EQ(ShellJoin({"echo", "$(x)", ""}), "'echo' '$(x)' ''");
}

}  // namespace
}  // namespace georep
