// HttpServer over real loopback sockets, driven by a raw client: what a hostile or broken
// client sends (slow headers, endless chunked bodies, too many connections) is sent byte for
// byte, and every wait is bounded by a deadline, not a sleep.
#include "http/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "http/content_coding.h"
#include "http/testing/decode.h"
#include "http/testing/raw_client.h"

namespace georep {
namespace {

using namespace std::chrono_literals;
using testing::RawClient;

class ServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions o = {}) {
    server_ = std::make_unique<HttpServer>(std::move(o));
    server_->Route("GET", "/items/{id}", [](const HttpRequest& req, HttpResponse& res) {
      res.set_content("item " + req.matches[1] + " q=" + req.get_param_value("q"), "text/plain");
    });
    server_->Route("GET", "/items/special", [](const HttpRequest&, HttpResponse& res) {
      res.set_content("the special one", "text/plain");
    });
    server_->Route("POST", "/echo", [](const HttpRequest& req, HttpResponse& res) {
      res.set_content(req.body, "application/octet-stream");
    });
    server_->Route("GET", "/stream", [this](const HttpRequest&, HttpResponse& res) {
      auto n = std::make_shared<int>(0);
      res.set_stream(
          "text/event-stream",
          [n](std::string* out) {
            if (*n == 3) return false;
            *out = "piece " + std::to_string((*n)++) + "\n";
            return true;
          },
          [this] {
            {
              std::lock_guard lock(quiet_mu_);
              ++streams_ended_;
            }
            quiet_cv_.notify_all();
          });
    });
    // After its first piece, waits up to 60 s for news -- unless told the stream ended, as a
    // live-update subscription is.
    server_->Route("GET", "/quiet", [this](const HttpRequest&, HttpResponse& res) {
      auto first = std::make_shared<bool>(true);
      res.set_stream(
          "text/event-stream",
          [this, first](std::string* out) {
            if (*first) {
              *first = false;
              *out = "hello\n";
              return true;
            }
            std::unique_lock lock(quiet_mu_);
            quiet_cv_.wait_for(lock, 60s, [&] { return quiet_ended_; });
            return false;
          },
          [this] {
            {
              std::lock_guard lock(quiet_mu_);
              quiet_ended_ = true;
            }
            quiet_cv_.notify_all();
          });
    });
    // A JSON list over the compression threshold, and a JSON body streamed: compressed (or
    // not) by the decorator as HttpApi's does it.
    server_->Route("GET", "/list", [](const HttpRequest&, HttpResponse& res) {
      std::string body = "{\"items\":[";
      for (int i = 0; i < 200; ++i) body += (i ? ",\"item " : "\"item ") + std::to_string(i) + "\"";
      res.set_content(body + "]}", "application/json");
    });
    server_->Route("GET", "/json-stream", [](const HttpRequest&, HttpResponse& res) {
      auto n = std::make_shared<int>(0);
      res.set_stream(
          "application/json",
          [n](std::string* out) {
            if (*n == 2) return false;
            *out = std::string(1000, 'a' + (*n)++);
            return true;
          },
          [] {});
    });
    server_->OnResponse(
        [](const HttpRequest& req, HttpResponse& res) { CompressApiResponse(req, res); });
    server_->OnHeader([](const HttpRequest& req, HttpResponse& res) {
      if (req.get_header_value("X-Refuse") != "yes") return false;
      res.status = 415;
      res.set_content("refused on the header", "text/plain");
      return true;
    });
    auto port = server_->Bind();
    ASSERT_TRUE(port.ok()) << port.status().message();
    port_ = *port;
    thread_ = std::thread([this] { served_ = server_->Serve(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Get(const std::string& target, const char* from = nullptr) {
    RawClient c(port_, from);
    if (!c.ok()) return "";
    c.Send("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return c.Read(10s);
  }

  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  Status served_;
  int port_ = 0;
  std::mutex quiet_mu_;  // guards streams_ended_ and quiet_ended_
  std::condition_variable quiet_cv_;
  int streams_ended_ = 0;
  bool quiet_ended_ = false;  // GUARDED_BY(quiet_mu_)
};

TEST_F(ServerTest, RoutesByPatternPreferringLiteralSegmentsAndDecodesPlaceholders) {
  Start();
  std::string r = Get("/items/a%2Fb?q=x+y%21");
  EXPECT_NE(r.find("HTTP/1.1 200"), std::string::npos) << r;
  EXPECT_NE(r.find("item a/b q=x y!"), std::string::npos) << r;
  EXPECT_NE(Get("/items/special").find("the special one"), std::string::npos);
  std::string wrong = Get("/echo");
  EXPECT_NE(wrong.find("HTTP/1.1 405"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("Allow: POST"), std::string::npos) << wrong;
  EXPECT_NE(Get("/nothing/here").find("HTTP/1.1 404"), std::string::npos);
  EXPECT_NE(Get("/items/%zz").find("HTTP/1.1 400"), std::string::npos);
}

TEST_F(ServerTest, HeadIsAnsweredByGetWithoutTheBody) {
  Start();
  RawClient c(port_);
  c.Send("HEAD /items/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string r = c.Read(10s);
  EXPECT_NE(r.find("HTTP/1.1 200"), std::string::npos) << r;
  EXPECT_NE(r.find("Content-Length: 9"), std::string::npos) << r;
  EXPECT_EQ(r.find("item 7"), std::string::npos) << r;
}

// Split at the end of the header: (header, body).
std::pair<std::string, std::string> HeadAndBody(const std::string& r) {
  const size_t end = r.find("\r\n\r\n");
  if (end == std::string::npos) return {r, ""};
  return {r.substr(0, end + 2), r.substr(end + 4)};
}

TEST_F(ServerTest, ACompressedAnswerIsSentWithItsOwnLengthAndHeadSaysTheSame) {
  Start();
  auto send = [&](const std::string& method, const std::string& target, const std::string& ae) {
    RawClient c(port_);
    c.Send(method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
           (ae.empty() ? "" : "Accept-Encoding: " + ae + "\r\n") + "\r\n");
    return HeadAndBody(c.Read(10s));
  };
  auto [plain_head, plain] = send("GET", "/list", "");
  EXPECT_EQ(plain_head.find("Content-Encoding"), std::string::npos) << plain_head;
  EXPECT_NE(plain_head.find("Vary: Accept-Encoding\r\n"), std::string::npos) << plain_head;
  EXPECT_NE(plain_head.find("Content-Length: " + std::to_string(plain.size()) + "\r\n"),
            std::string::npos)
      << plain_head;

  auto [gz_head, gz] = send("GET", "/list", "gzip, deflate, br");
  EXPECT_NE(gz_head.find("Content-Encoding: gzip\r\n"), std::string::npos) << gz_head;
  EXPECT_NE(gz_head.find("Content-Type: application/json\r\n"), std::string::npos) << gz_head;
  EXPECT_NE(gz_head.find("Content-Length: " + std::to_string(gz.size()) + "\r\n"),
            std::string::npos)
      << gz_head;
  EXPECT_LT(gz.size(), plain.size() / 3);
  EXPECT_EQ(testing::Gunzip(gz), plain);

  auto [head_head, head_body] = send("HEAD", "/list", "gzip");
  EXPECT_NE(head_head.find("Content-Encoding: gzip\r\n"), std::string::npos) << head_head;
  EXPECT_NE(head_head.find("Content-Length: " + std::to_string(gz.size()) + "\r\n"),
            std::string::npos)
      << head_head;
  EXPECT_EQ(head_body, "");

  // A streamed body, JSON or not, goes as it comes: chunked, never compressed.
  auto [stream_head, stream] = send("GET", "/json-stream", "gzip");
  EXPECT_NE(stream_head.find("Transfer-Encoding: chunked"), std::string::npos) << stream_head;
  EXPECT_EQ(stream_head.find("Content-Encoding"), std::string::npos) << stream_head;
  EXPECT_NE(stream.find(std::string(1000, 'a')), std::string::npos);
  EXPECT_NE(stream.find(std::string(1000, 'b')), std::string::npos);
}

TEST_F(ServerTest, KeepsAConnectionAliveAcrossRequests) {
  Start();
  RawClient c(port_);
  c.Send("GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.Read(10s, "item 1 q=").find("item 1"), std::string::npos);
  c.Send("GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.Read(10s, "item 2 q=").find("item 2"), std::string::npos);
  EXPECT_FALSE(c.closed());
}

TEST_F(ServerTest, AChunkedBodyOverTheLimitIsRefusedWhileItArrives) {
  HttpServerOptions o;
  o.max_body_bytes = 64 << 10;
  Start(o);
  RawClient c(port_);
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // Chunks of 16 KiB until the server closes the connection, 256 MiB at most: it stops
  // reading at the limit, so only what the kernel's socket buffers hold gets sent after it.
  std::string chunk = "4000\r\n" + std::string(16 << 10, 'a') + "\r\n";
  size_t sent = 0;
  while (sent < (256u << 20) && c.Send(chunk)) sent += chunk.size();
  EXPECT_LT(sent, 256u << 20) << "the server kept reading";
  std::string r = c.Read(10s, "\r\n\r\n");
  EXPECT_NE(r.find("HTTP/1.1 413"), std::string::npos) << r.substr(0, 200);
  EXPECT_GE(server_->stats().oversized, 1);
}

TEST_F(ServerTest, ABodyWithinTheLimitArrivesWhole) {
  Start();
  RawClient c(port_);
  std::string body(300'000, 'z');
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
  EXPECT_NE(c.Read(10s, "100 Continue\r\n\r\n").find("100 Continue"), std::string::npos);
  c.Send(body);
  std::string r = c.Read(10s);
  EXPECT_NE(r.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(r.find(body), std::string::npos);
}

TEST_F(ServerTest, AHeaderOverTheLimitIsRefused) {
  HttpServerOptions o;
  o.max_header_bytes = 4096;
  Start(o);
  RawClient c(port_);
  c.Send("GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'b') + "\r\n\r\n");
  EXPECT_NE(c.Read(10s).find("HTTP/1.1 431"), std::string::npos);
}

TEST_F(ServerTest, TheHeaderCheckAnswersBeforeTheBodyIsRead) {
  Start();
  RawClient c(port_);
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nX-Refuse: yes\r\nContent-Length: 100000000\r\n\r\n");
  std::string r = c.Read(10s);
  EXPECT_NE(r.find("HTTP/1.1 415"), std::string::npos) << r;
  EXPECT_TRUE(c.closed());
}

TEST_F(ServerTest, ASlowHeaderIsCutOffAtItsDeadlineWhileOthersAreServed) {
  HttpServerOptions o;
  o.header_timeout = 500ms;
  Start(o);
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(slow.back()->Send("GET /items/1 HTTP/1.1\r\nX-A: 1\r\n"));
  }
  EXPECT_NE(Get("/items/2").find("item 2"), std::string::npos);
  for (auto& c : slow) {
    c->Read(10s);
    EXPECT_TRUE(c->closed()) << "a header that never completes must not hold a connection";
  }
  // The count follows the close the clients saw.
  EXPECT_TRUE(
      server_->WaitForStats([](const HttpServerStats& st) { return st.timed_out >= 50; }, 10s))
      << server_->stats().timed_out;
}

TEST_F(ServerTest, ConnectionsPerAddressAreBoundedAndOtherAddressesStillServed) {
  HttpServerOptions o;
  o.max_connections_per_address = 3;
  Start(o);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(port_, "127.0.0.2"));
    // A full round trip: the server has accepted (and counted) this connection.
    held.back()->Send("GET /items/h HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_NE(held.back()->Read(10s, "item h q=").find("item h"), std::string::npos);
  }
  std::string refused = Get("/items/1", "127.0.0.2");
  EXPECT_NE(refused.find("503"), std::string::npos) << refused;
  EXPECT_NE(Get("/items/1", "127.0.0.3").find("item 1"), std::string::npos);
  EXPECT_GE(server_->stats().refused_connections, 1);
  held.clear();
  // Closed connections give their places back.
  ASSERT_TRUE(server_->WaitForStats(
      [](const HttpServerStats& st) { return st.open_connections == 0; }, 10s))
      << server_->stats().open_connections;
  EXPECT_NE(Get("/items/1", "127.0.0.2").find("item 1"), std::string::npos);
}

TEST_F(ServerTest, AStreamedBodyIsSentChunkedAndItsEndIsToldOnce) {
  Start();
  std::string r = Get("/stream");
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos) << r;
  EXPECT_NE(r.find("piece 0\n"), std::string::npos) << r;
  EXPECT_NE(r.find("piece 2\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n0\r\n\r\n"), std::string::npos) << r;
  std::unique_lock lock(quiet_mu_);
  EXPECT_TRUE(quiet_cv_.wait_for(lock, 10s, [&] { return streams_ended_ >= 1; }));
  EXPECT_EQ(streams_ended_, 1);
}

TEST_F(ServerTest, AStreamEndsAsSoonAsItsClientGoesAway) {
  Start();
  {
    RawClient c(port_);
    c.Send("GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_NE(c.Read(10s, "hello").find("hello"), std::string::npos);
  }
  // Told within seconds of the close, not after the source's 60 s.
  std::unique_lock lock(quiet_mu_);
  EXPECT_TRUE(quiet_cv_.wait_for(lock, 5s, [&] { return quiet_ended_; }));
}

TEST_F(ServerTest, StopEndsIdleConnectionsAndServeReturns) {
  Start();
  RawClient idle(port_);
  idle.Send("GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(idle.Read(10s, "item 1 q=").find("item 1"), std::string::npos);
  RawClient half(port_);
  half.Send("GET /items/1 HTTP/1.1\r\n");
  server_->Stop();
  thread_.join();
  EXPECT_TRUE(served_.ok());
  idle.Read(10s);
  EXPECT_TRUE(idle.closed());
  EXPECT_EQ(server_->stats().open_connections, 0);
}

// Connections that end on their own while Stop runs (their clients hang up, their answers
// complete) are freed before Serve returns: Stop's work for them is queued while the server
// still has work, never into an I/O loop that has already run dry. Bounded: 60 rounds.
TEST_F(ServerTest, StopWhileConnectionsEndOnTheirOwnLeavesNoneOpen) {
  for (int round = 0; round < 60; ++round) {
    Start();
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 6; ++i) {
      clients.push_back(std::make_unique<RawClient>(port_));
      clients.back()->Send("GET /items/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    for (auto& c : clients) ASSERT_NE(c->Read(10s, " q=").find(" q="), std::string::npos);
    std::thread hang_up([&] {
      for (auto& c : clients) c->Close();
    });
    server_->Stop();
    hang_up.join();
    thread_.join();
    ASSERT_TRUE(served_.ok());
    ASSERT_EQ(server_->stats().open_connections, 0) << "round " << round;
    server_.reset();
  }
}

TEST_F(ServerTest, APortInUseIsAClearError) {
  Start();
  HttpServerOptions o;
  o.listen_port = port_;
  HttpServer second(o);
  auto port = second.Bind();
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos);
}

TEST(ParseHttpRequest, ReadsAWholeRequestAsAConnectionWould) {
  auto r = ParseHttpRequest(
      "POST /a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      4096, 1024);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/a b/c");
  EXPECT_EQ(r->get_param_value("y"), "A");
  EXPECT_EQ(r->get_header_value("host"), "h");
  EXPECT_EQ(r->body, "abcde");
  EXPECT_FALSE(ParseHttpRequest("GET / HTTP/1.1\r\nHost: h\r\n", 4096, 1024).ok());
  EXPECT_FALSE(
      ParseHttpRequest("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 4096, 1024).ok());
  EXPECT_FALSE(ParseHttpRequest("GET http://x/ HTTP/1.1\r\n\r\n", 4096, 1024).ok());
}

TEST(ParseQuery, DecodesPairsAndKeepsMalformedEscapesAsSent) {
  auto q = ParseQuery("a=1&b=x%20y+z&&c&d=%zz");
  EXPECT_EQ(q.find("a")->second, "1");
  EXPECT_EQ(q.find("b")->second, "x y z");
  EXPECT_EQ(q.count("c"), 1u);
  EXPECT_EQ(q.find("d")->second, "%zz");
}

TEST(PercentDecode, RefusesNulAndTruncatedEscapes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%41b", &out));
  EXPECT_EQ(out, "aAb");
  EXPECT_FALSE(PercentDecode("a%00b", &out));
  EXPECT_FALSE(PercentDecode("a%4", &out));
  EXPECT_FALSE(PercentDecode("a%", &out));
}

}  // namespace
}  // namespace georep
