// SpawnAgent with small real processes in the agent's place: the stream both ways, a clean
// close, an agent that fails (its last stderr line is the reason), one that will not exit, and
// one that cannot be started.
#include "replication/agent_link.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace georep::replication {
namespace {

class AgentLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("georep-agent-link-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    log_ = (dir_ / "agent.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string log_;
};

TEST_F(AgentLinkTest, CarriesTheStreamBothWaysAndClosesCleanly) {
  auto link = SpawnAgent({"cat"}, log_);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  ASSERT_EQ(::write((*link)->write_fd(), "ping", 4), 4);
  char buf[4];
  ASSERT_EQ(::read((*link)->read_fd(), buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  EXPECT_TRUE((*link)->Close(60).ok());
}

TEST_F(AgentLinkTest, AFailedAgentSaysWhyInItsLastStderrLine) {
  auto link =
      SpawnAgent({"/bin/sh", "-c", "echo starting >&2; echo 'no such root' >&2; exit 2"}, log_);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  char buf[1];
  EXPECT_EQ(::read((*link)->read_fd(), buf, 1), 0);  // the stream ends: it has exited
  EXPECT_EQ((*link)->ErrorTail(), "no such root");
  const Status closed = (*link)->Close(60);
  EXPECT_EQ(closed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(closed.message(), "the agent exited with 2: no such root");
}

TEST_F(AgentLinkTest, AnAgentThatDoesNotExitIsKilled) {
  // Its stdin ends at Close, but it does not read it.
  auto link = SpawnAgent({"sleep", "60"}, log_);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  const Status closed = (*link)->Close(0);
  EXPECT_EQ(closed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(closed.message(), "the agent did not exit and was killed");
}

TEST_F(AgentLinkTest, AMissingAgentProgramIsAnError) {
  auto link = SpawnAgent({"/nonexistent/georep", "agent"}, log_);
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(link.status().message().find("cannot start /nonexistent/georep"), std::string::npos)
      << link.status().message();
}

}  // namespace
}  // namespace georep::replication
