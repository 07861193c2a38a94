// The engine's HTTP front against hostile clients (issue findings V2, V3, V9): a real
// `georep serve`, real sockets, clients that send exactly the bytes an attacker would.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine_process.h"
#include "http/testing/raw_client.h"

namespace georep::testing {
namespace {

using namespace std::chrono_literals;

// Resident memory of a process, in KiB (0 if unknown).
int64_t RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return 0;
}

// This test process holds a thousand sockets: as many descriptors as it may have.
void RaiseOpenFileLimit() {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  ASSERT_GE(lim.rlim_cur, 1200u) << "the test needs 1,200 open files";
}

// V2: 33 slow connections (a header line every 10 s) stopped the API: 32 worker threads, one
// per connection. Now connections wait on events, cost no thread, and a header must arrive
// whole within its deadline.
TEST(HttpFront, AThousandSlowHeadersNeitherStopTheApiNorStayOpen) {
  RaiseOpenFileLimit();
  TempDir dir;
  EngineProcess engine(dir.path() + "/data");
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());

  // From ten addresses of the loopback network, a hundred each: under the per-address limit.
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 1000; ++i) {
    const std::string from = "127.0.1." + std::to_string(10 + i / 100);
    slow.push_back(std::make_unique<RawClient>(engine.port(), from.c_str()));
    ASSERT_TRUE(slow.back()->ok()) << "connection " << i;
    ASSERT_TRUE(slow.back()->Send("GET /api/v1/sessions HTTP/1.1\r\nX-Slow: 1\r\n"));
  }
  httplib::Client c("127.0.0.1", engine.port());
  c.set_read_timeout(5, 0);
  c.set_connection_timeout(5, 0);
  for (int i = 0; i < 50; ++i) {
    auto r = c.Get("/api/v1/sessions", {{"Authorization", "Bearer " + token}});
    ASSERT_TRUE(r) << "request " << i << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
  }
  int still_open = 0;
  for (auto& s : slow) still_open += s->PeerClosed() ? 0 : 1;
  EXPECT_GT(still_open, 0) << "the slow connections were gone before the requests ran";
  // The header deadline (10 s) closes every one of them; none is answered.
  for (auto& s : slow) {
    std::string got = s->Read(60s);
    EXPECT_TRUE(s->closed()) << "a header that never completes held its connection 60 s";
    EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos);
  }
}

// V3: a chunked login body of 300 MiB was read whole (RSS 543 MiB). Now it is counted as it
// arrives and refused at the body limit (1 MiB); the engine stops reading.
TEST(HttpFront, AnEndlessChunkedBodyIsRefusedAtTheLimitWithoutGrowingTheEngine) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/data");
  ASSERT_TRUE(engine.Start()) << engine.output();
  ASSERT_TRUE(engine.Get("/api/v1/health"));
  const int64_t before = RssKiB(engine.pid());
  ASSERT_GT(before, 0);

  RawClient c(engine.port());
  ASSERT_TRUE(c.Send(
      "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n"));
  const std::string chunk = "10000\r\n" + std::string(64 << 10, ' ') + "\r\n";
  size_t sent = 0;
  while (sent < (1u << 30) && c.Send(chunk)) sent += chunk.size();
  EXPECT_LT(sent, 64u << 20) << "the engine kept reading a body past its limit";
  std::string r = c.Read(10s, "\r\n\r\n");
  EXPECT_NE(r.find("HTTP/1.1 413"), std::string::npos) << r.substr(0, 300);
  const int64_t after = RssKiB(engine.pid());
  EXPECT_LT(after - before, 32 * 1024) << "RSS grew from " << before << " KiB to " << after;
  // The engine goes on serving.
  auto health = engine.Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(HttpFront, OneAddressCannotTakeEveryConnection) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/data", {"--max-connections-per-address", "20"});
  ASSERT_TRUE(engine.Start()) << engine.output();
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(std::make_unique<RawClient>(engine.port(), "127.0.2.1"));
    // A whole exchange: the engine has accepted and counted this connection.
    held.back()->Send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_NE(held.back()->Read(10s, "\"ok\"").find("200"), std::string::npos) << i;
  }
  RawClient over(engine.port(), "127.0.2.1");
  over.Send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string refused = over.Read(10s);
  EXPECT_NE(refused.find("503"), std::string::npos) << refused;
  RawClient other(engine.port(), "127.0.2.2");
  other.Send("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_NE(other.Read(10s, "\"ok\"").find("200 OK"), std::string::npos);
}

// V9: with no Host check, a page of another site whose name resolves to this engine's address
// (DNS rebinding) talks to the API as a same-origin page.
TEST(HttpFront, OnlyTheEnginesOwnHostNamesAreAnswered) {
  TempDir dir;
  EngineProcess engine(dir.path() + "/data", {"--allowed-host", "georep.example", "--public-url",
                                              "https://console.example:8443/"});
  ASSERT_TRUE(engine.Start()) << engine.output();
  auto ask = [&](const std::string& host) {
    RawClient c(engine.port());
    c.Send("GET /api/v1/health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    std::string r = c.Read(10s);
    return r.substr(0, r.find("\r\n"));
  };
  EXPECT_EQ(ask("rebound.attacker.example"), "HTTP/1.1 421 Misdirected Request");
  EXPECT_EQ(ask("rebound.attacker.example:" + std::to_string(engine.port())),
            "HTTP/1.1 421 Misdirected Request");
  EXPECT_EQ(ask("georep.example.attacker.example"), "HTTP/1.1 421 Misdirected Request");
  for (const std::string& host :
       {"127.0.0.1:" + std::to_string(engine.port()), std::string("localhost"),
        std::string("[::1]:8470"), std::string("GEOREP.example"), std::string("console.example"),
        std::string("console.example.:8443")}) {
    EXPECT_EQ(ask(host), "HTTP/1.1 200 OK") << host;
  }
  EXPECT_NE(engine.output().find("--server https://console.example:8443 "), std::string::npos)
      << engine.output();
  // The refusal says what to do.
  RawClient c(engine.port());
  c.Send("GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
  EXPECT_NE(c.Read(10s).find("--allowed-host"), std::string::npos);
}

}  // namespace
}  // namespace georep::testing
