// Alerts end to end: a real engine, a real sshd as a directory session's destination, a webhook
// receiver and an SMTP server in this test on loopback. The destination goes away (its sshd
// stopped, the connection cut by PID): the session turns Faulty, the session-faulty alert
// fires, and its webhook arrives signed (checked here with OpenSSL's HMAC, not georep's); an
// operator acknowledges it from the CLI; the destination comes back and the alert resolves,
// with a second webhook. The time from the fault to the webhook is printed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_process.h"
#include "integration/replication_support.h"
#include "integration/sshd_server.h"
#include "replication/test_util.h"

namespace georep::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

// A webhook receiver on loopback: keeps every request, wakes whoever waits for one.
class Receiver {
 public:
  struct Request {
    httplib::Headers headers;
    std::string body;
    Clock::time_point at;
    std::string Header(const char* name) const {
      auto it = headers.find(name);
      return it == headers.end() ? "" : it->second;
    }
  };
  Receiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        got_.push_back({req.headers, req.body, Clock::now()});
      }
      changed_.notify_all();
      res.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  // The first request whose JSON body `match` takes, waiting up to `timeout` for it.
  std::optional<Request> WaitFor(const std::function<bool(const Json&)>& match,
                                 std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<Request> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& r : got_) {
        if (match(Json::parse(r.body, nullptr, false))) {
          found = r;
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Request> got_;
};

// Just enough SMTP (RFC 5321) for one client at a time, without TLS: what libcurl sends, kept.
class SmtpServer {
 public:
  SmtpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0) return;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~SmtpServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  // The first message that holds `needle`, waiting up to `timeout` for it.
  std::optional<std::string> WaitForMessage(const std::string& needle,
                                            std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<std::string> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& m : messages_) {
        if (m.find(needle) != std::string::npos) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  void Serve() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      Talk(c);
      ::close(c);
    }
  }
  static bool Line(int c, std::string& buffer, std::string* line) {
    for (;;) {
      if (auto nl = buffer.find("\r\n"); nl != std::string::npos) {
        *line = buffer.substr(0, nl);
        buffer.erase(0, nl + 2);
        return true;
      }
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) return false;
      char chunk[4096];
      const ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
  }
  void Talk(int c) {
    auto say = [c](const std::string& s) { (void)::send(c, s.data(), s.size(), MSG_NOSIGNAL); };
    say("220 test ESMTP\r\n");
    std::string buffer, line, message;
    while (Line(c, buffer, &line)) {
      if (line.rfind("EHLO", 0) == 0 || line.rfind("HELO", 0) == 0) {
        say("250 test\r\n");
      } else if (line == "DATA") {
        say("354 go on\r\n");
        while (Line(c, buffer, &line) && line != ".") message += line + "\n";
        {
          std::lock_guard lock(mu_);
          messages_.push_back(message);
        }
        changed_.notify_all();
        say("250 queued\r\n");
      } else if (line == "QUIT") {
        say("221 bye\r\n");
        return;
      } else {
        say("250 ok\r\n");  // MAIL FROM, RCPT TO, RSET, NOOP
      }
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
};

TEST(Alerts, AFaultReachesTheWebhookSignedIsAcknowledgedAndItsEndIsSentToo) {
  TempDir data, src, dst, sshd_dir, config;
  EngineProcess engine(data.path(), {"--monitor-interval", "1", "--alert-interval", "1"});
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string token = engine.Login(engine.admin_password());
  ASSERT_FALSE(token.empty());
  auto call = [&](const std::string& method, const std::string& path, const Json& body) {
    httplib::Result r = method == "PUT"   ? engine.Put(path, body.dump(), token)
                        : method == "GET" ? engine.Get(path, token)
                                          : engine.Post(path, body.dump(), token);
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
             : std::make_pair(0, Json());
  };

  // The notifiers: a webhook to the receiver, and e-mail through the SMTP server.
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0);
  const std::string secret = "the receiver's shared secret, 40 chars.";
  // Added from the CLI, the secret on stdin.
  const std::vector<std::string> env = {"GEOREP_CONFIG_DIR=" + config.path()};
  auto login = RunCommand(
      {GeorepBinary(), "login", "--server", engine.url(), "--user", "admin", "--password-stdin"},
      engine.admin_password() + "\n", env);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto added = RunCommand({GeorepBinary(), "--json", "notifier", "add", "webhook",
                           "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook",
                           "--name", "hook", "--secret-stdin"},
                          secret + "\n", env);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(Json::parse(added.out)["name"], "hook");
  auto [lst, listed] = call("GET", "/api/v1/notifiers", Json());
  ASSERT_EQ(lst, 200);
  EXPECT_FALSE(listed["items"][0].contains("secret")) << listed.dump();
  SmtpServer smtp;
  ASSERT_GT(smtp.port(), 0);
  auto [m_status, mail] = call("POST", "/api/v1/notifiers",
                               {{"name", "mail"},
                                {"kind", "email"},
                                {"url", "smtp://127.0.0.1:" + std::to_string(smtp.port())},
                                {"mail_from", "georep@example.org"},
                                {"mail_to", "ops@example.org"},
                                {"min_severity", "critical"}});
  ASSERT_EQ(m_status, 201) << mail.dump();

  // A request is what a receiver checks: the signature over "<timestamp>.<body>", the
  // timestamp recent.
  auto signed_right = [&](const Receiver::Request& r) {
    const std::string ts = r.Header("X-Georep-Timestamp");
    const long long age = static_cast<long long>(::time(nullptr)) - std::stoll(ts);
    return r.Header("X-Georep-Signature") == "sha256=" + HmacSha256Hex(secret, ts + "." + r.body) &&
           age >= -5 && age < 120 && r.Header("Content-Type") == "application/json";
  };

  // A test through each, on demand.
  EXPECT_EQ(call("POST", "/api/v1/notifiers/hook/test", Json::object()).first, 202);
  auto test = receiver.WaitFor([](const Json& j) { return j.value("event", "") == "test"; }, 30s);
  ASSERT_TRUE(test) << engine.output();
  EXPECT_TRUE(signed_right(*test)) << test->body;
  EXPECT_EQ(test->Header("X-Georep-Event"), "test");
  EXPECT_EQ(call("POST", "/api/v1/notifiers/mail/test", Json::object()).first, 202);
  auto test_mail = smtp.WaitForMessage("Subject: [georep] test of notifier mail", 30s);
  ASSERT_TRUE(test_mail) << engine.output();
  EXPECT_NE(test_mail->find("To: ops@example.org"), std::string::npos) << *test_mail;

  // A directory session to a destination behind a real sshd.
  auto key = engine.Get("/api/v1/engine/ssh-key", token);
  ASSERT_TRUE(key && key->status == 200);
  const std::string engine_key = Json::parse(key->body)["public_key"];
  SshServer sshd(sshd_dir.path());
  ASSERT_TRUE(sshd.Start(engine_key)) << sshd.error();
  auto [c_status, cluster] = call("POST", "/api/v1/clusters", {{"name", "local"}});
  ASSERT_EQ(c_status, 201) << cluster.dump();
  const std::string cid = cluster["id"];
  auto [h_status, host] = call("POST", "/api/v1/clusters/" + cid + "/hosts",
                               {{"name", "localhost"}, {"transport", "local"}});
  ASSERT_EQ(h_status, 201) << host.dump();
  auto [v_status, volume] = call("POST", "/api/v1/clusters/" + cid + "/volumes",
                                 {{"name", "docs"}, {"host_id", host["id"]}, {"path", src.path()}});
  ASSERT_EQ(v_status, 201) << volume.dump();
  auto [d_status, dest] = call("POST", "/api/v1/clusters/" + cid + "/destinations",
                               {{"source_host_id", host["id"]},
                                {"host", "127.0.0.1"},
                                {"ssh_port", sshd.port()},
                                {"ssh_fingerprint", sshd.HostFingerprint()},
                                {"remote_user", "root"}});
  ASSERT_EQ(d_status, 201) << dest.dump();
  auto [s_status, created] = call("POST", "/api/v1/sessions",
                                  {{"destination_id", dest["id"]},
                                   {"source_volume_id", volume["id"]},
                                   {"destination_volume", dst.path()}});
  ASSERT_EQ(s_status, 201) << created.dump();
  const std::string id = created["id"];
  const std::string path = "/api/v1/sessions/" + id;
  ASSERT_EQ(
      call("PUT", path + "/config/remote-command", {{"value", GeorepBinary() + " agent"}}).first,
      200);
  replication::testing::WriteFile(src.path() + "/a", "some data");
  ASSERT_EQ(call("POST", path + "/start", Json::object()).first, 200);
  auto status = [&] { return call("GET", path, Json()).second.value("status", ""); };
  ASSERT_TRUE(WaitFor(60, [&] { return status() == "Active"; }))
      << call("GET", path, Json()).second;
  ASSERT_TRUE(WaitFor(60, [&] { return SameTree(src.path(), dst.path()); }));

  // The fault: the destination's sshd stops and the connection is cut.
  std::vector<pid_t> connection;
  for (pid_t child : ChildrenOf(sshd.pid()))
    for (pid_t p : ProcessTree(child)) connection.push_back(p);
  ASSERT_FALSE(connection.empty());
  const auto fault = Clock::now();
  sshd.Stop();
  for (pid_t p : connection) ::kill(p, SIGKILL);
  auto is_faulty = [&](const Json& j) {
    return j.value("event", "") == "firing" && j["alert"].value("rule", "") == "session-faulty" &&
           j["alert"].value("object_id", "") == id;
  };
  auto firing = receiver.WaitFor(is_faulty, 90s);
  ASSERT_TRUE(firing) << call("GET", path, Json()).second.dump(2) << engine.output();
  std::cout << "[ timing ] fault to webhook: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(firing->at - fault).count()
            << " ms\n";
  EXPECT_TRUE(signed_right(*firing)) << firing->body;
  EXPECT_EQ(firing->Header("X-Georep-Event"), "firing");
  const Json alert = Json::parse(firing->body)["alert"];
  EXPECT_EQ(alert["severity"], "critical");
  EXPECT_EQ(alert["state"], "firing");
  EXPECT_FALSE(alert["summary"].get<std::string>().empty());
  const int64_t alert_id = alert["id"];
  // The critical alert goes by e-mail too.
  auto alert_mail = smtp.WaitForMessage("Subject: [georep] critical: session-faulty", 30s);
  ASSERT_TRUE(alert_mail) << engine.output();
  EXPECT_NE(alert_mail->find("is now: session-faulty"), std::string::npos) << *alert_mail;

  // It is listed as firing; an operator acknowledges it from the CLI.
  auto [a_status, firing_list] = call("GET", "/api/v1/alerts?state=firing", Json());
  ASSERT_EQ(a_status, 200);
  ASSERT_FALSE(firing_list["items"].empty()) << firing_list.dump();
  auto ack =
      RunCommand({GeorepBinary(), "--json", "alert", "ack", std::to_string(alert_id)}, "", env);
  ASSERT_EQ(ack.exit_code, 0) << ack.err;
  EXPECT_EQ(Json::parse(ack.out)["acknowledged_by"], "admin");
  auto listed_cli = RunCommand({GeorepBinary(), "alert", "list"}, "", env);
  EXPECT_EQ(listed_cli.exit_code, 0) << listed_cli.err;
  EXPECT_NE(listed_cli.out.find("session-faulty"), std::string::npos) << listed_cli.out;

  // The destination comes back: the session recovers, the alert resolves, and says so.
  ASSERT_TRUE(sshd.Start(engine_key)) << sshd.error();
  auto resolved = receiver.WaitFor(
      [&](const Json& j) {
        return j.value("event", "") == "resolved" && j["alert"].value("id", 0) == alert_id;
      },
      120s);
  ASSERT_TRUE(resolved) << call("GET", path, Json()).second.dump(2);
  EXPECT_TRUE(signed_right(*resolved));
  const Json ended = Json::parse(resolved->body)["alert"];
  EXPECT_EQ(ended["state"], "resolved");
  EXPECT_EQ(ended["acknowledged_by"], "admin");
  EXPECT_FALSE(ended["resolved_at"].is_null());
  auto [g_status, got] = call("GET", "/api/v1/alerts/" + std::to_string(alert_id), Json());
  EXPECT_EQ(g_status, 200);
  EXPECT_EQ(got["state"], "resolved");

  // The history: every message to the webhook delivered at the first attempt, the receiver's
  // answer kept (recorded once the answer is in: the last one just after the receiver saw it);
  // events for the alert's life.
  Json history;
  EXPECT_TRUE(WaitFor(30, [&] {
    history = call("GET", "/api/v1/notifiers/hook/deliveries", Json()).second;
    if (history["items"].size() < 3) return false;
    for (const auto& d : history["items"])
      if (d["state"] != "delivered") return false;
    return true;
  })) << history.dump();
  for (const auto& d : history["items"]) {
    EXPECT_EQ(d["attempts"], 1) << d.dump();
    EXPECT_EQ(d["response_status"], 204) << d.dump();
  }
  auto deliveries = RunCommand({GeorepBinary(), "notifier", "deliveries", "hook"}, "", env);
  EXPECT_EQ(deliveries.exit_code, 0) << deliveries.err;
  EXPECT_NE(deliveries.out.find("delivered"), std::string::npos) << deliveries.out;
  auto [e_status, events] = call("GET", "/api/v1/events?action=alert.", Json());
  ASSERT_EQ(e_status, 200);
  std::string actions;
  for (const auto& e : events["items"]) actions += e["action"].get<std::string>() + " ";
  EXPECT_NE(actions.find("alert.firing"), std::string::npos) << actions;
  EXPECT_NE(actions.find("alert.acknowledge"), std::string::npos) << actions;
  EXPECT_NE(actions.find("alert.resolved"), std::string::npos) << actions;
  EXPECT_EQ(call("POST", path + "/stop", Json::object()).first, 200);
}

}  // namespace
}  // namespace georep::testing
