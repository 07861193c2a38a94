// `georep serve` as a server, end to end: a private data directory, clear errors for an address
// in use and an unreachable database, TLS, engines sharing one PostgreSQL database (one active,
// the others standing by), one engine per data directory, and live streams shared fairly.
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "integration/api_fixture.h"
#include "integration/replication_support.h"

namespace georep::testing {
namespace {

TEST(ServeSecurity, DataDirectoryAndDatabaseArePrivate) {
  TempDir dir;
  std::string data = dir.path() + "/engine";
  EngineProcess engine(data);
  ASSERT_TRUE(engine.Start()) << engine.output();
  struct stat st {};
  ASSERT_EQ(stat(data.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((data + "/georep.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST(ServeSecurity, ListenAddressInUseIsAClearError) {
  TempDir a, b;
  EngineProcess first(a.path());
  ASSERT_TRUE(first.Start());
  auto r = RunCommand({GeorepBinary(), "serve", "--data", b.path(), "--listen",
                       "127.0.0.1:" + std::to_string(first.port())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
      << r.err;
}

TEST(ServeSecurity, UnreachableDatabaseIsAClearError) {
  TempDir d;
  const std::string url = "postgresql://georep:topsecret@127.0.0.1:1/georep";
  // V10: a password on the command line is readable by every user of the machine (ps).
  auto argv = RunCommand({GeorepBinary(), "serve", "--data", d.path(), "--db", url});
  EXPECT_EQ(argv.exit_code, 1);
  EXPECT_NE(argv.err.find("--db holds a password"), std::string::npos) << argv.err;
  EXPECT_EQ(argv.err.find("topsecret"), std::string::npos) << "password echoed: " << argv.err;
  // From the environment, or a file only root reads.
  auto r = RunCommand({GeorepBinary(), "serve", "--data", d.path()}, "", {"GEOREP_DB_URL=" + url});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to PostgreSQL"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("topsecret"), std::string::npos) << "password leaked: " << r.err;
  const std::string file = d.path() + "/db-url";
  std::ofstream(file) << url << "\n";
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto loose = RunCommand({GeorepBinary(), "serve", "--data", d.path(), "--db-file", file});
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_NE(loose.err.find("can be read by others (mode 0644)"), std::string::npos) << loose.err;
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  auto from_file = RunCommand({GeorepBinary(), "serve", "--data", d.path(), "--db-file", file});
  EXPECT_EQ(from_file.exit_code, 1);
  EXPECT_NE(from_file.err.find("cannot connect to PostgreSQL"), std::string::npos) << from_file.err;
  EXPECT_EQ(from_file.err.find("topsecret"), std::string::npos) << from_file.err;
}

// A self-signed certificate for 127.0.0.1 and its key (0600) in `dir`; returns the
// certificate's path (the key is beside it, tls-key.pem).
std::string SelfSignedCertificate(const TempDir& dir) {
  const std::string cert = dir.path() + "/tls-cert.pem", key = dir.path() + "/tls-key.pem";
  auto gen = RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                         "-addext", "subjectAltName=IP:127.0.0.1"});
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
  return cert;
}

TEST(ServeTls, ServesHttpsWithTheGivenCertificate) {
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  auto gen = RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                         "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  // A key others can read is refused (V10: it was loaded silently).
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  auto loose = RunCommand({GeorepBinary(), "serve", "--data", dir.path() + "/data", "--listen",
                           "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key});
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_NE(loose.err.find("can be read by others (mode 0644): chmod 600"), std::string::npos)
      << loose.err;
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  EngineProcess engine(dir.path() + "/data", {"--tls-cert", cert, "--tls-key", key});
  ASSERT_TRUE(engine.Start()) << engine.output();
  EXPECT_EQ(engine.url().rfind("https://127.0.0.1:", 0), 0u) << engine.url();

  httplib::SSLClient tls("127.0.0.1", engine.port());
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(true);
  auto r = tls.Get("/api/v1/health");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);

  // V10: browsers are told to keep to TLS, and only forward-secret AEAD suites are offered
  // (Mozilla's "intermediate" profile): no static RSA key exchange, no CBC with SHA-1.
  EXPECT_EQ(r->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  const std::string at = "127.0.0.1:" + std::to_string(engine.port());
  for (const char* weak : {"AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"}) {
    auto hello =
        RunCommand({"/usr/bin/openssl", "s_client", "-connect", at, "-tls1_2", "-cipher", weak});
    EXPECT_NE(hello.exit_code, 0) << weak << " was accepted:\n" << hello.out;
  }
  auto strong = RunCommand({"/usr/bin/openssl", "s_client", "-connect", at, "-tls1_2", "-cipher",
                            "ECDHE-RSA-AES128-GCM-SHA256"});
  EXPECT_EQ(strong.exit_code, 0) << strong.out << strong.err;
  EXPECT_NE(strong.out.find("ECDHE-RSA-AES128-GCM-SHA256"), std::string::npos) << strong.out;
  auto old = RunCommand({"/usr/bin/openssl", "s_client", "-connect", at, "-tls1_1"});
  EXPECT_NE(old.exit_code, 0) << "TLS 1.1 was accepted";

  httplib::Client plain("127.0.0.1", engine.port());
  plain.set_connection_timeout(2, 0);
  plain.set_read_timeout(2, 0);
  auto p = plain.Get("/api/v1/health");
  EXPECT_TRUE(!p || p->status != 200) << "plain HTTP must not be served on the TLS port";
}

TEST(ServeTls, MissingCertificateIsAClearError) {
  TempDir dir;
  auto r =
      RunCommand({GeorepBinary(), "serve", "--data", dir.path() + "/d", "--listen", "127.0.0.1:0",
                  "--tls-cert", dir.path() + "/nope.pem", "--tls-key", dir.path() + "/nope.key"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read the TLS key"), std::string::npos) << r.err;
  // The key there, the certificate not.
  std::ofstream(dir.path() + "/key.pem") << "not a key";
  ASSERT_EQ(::chmod((dir.path() + "/key.pem").c_str(), 0600), 0);
  auto no_cert =
      RunCommand({GeorepBinary(), "serve", "--data", dir.path() + "/d", "--listen", "127.0.0.1:0",
                  "--tls-cert", dir.path() + "/nope.pem", "--tls-key", dir.path() + "/key.pem"});
  EXPECT_EQ(no_cert.exit_code, 1);
  EXPECT_NE(no_cert.err.find("cannot load the TLS certificate " + dir.path() +
                             "/nope.pem: No such file or directory"),
            std::string::npos)
      << no_cert.err;
  // Both there, the key not a key.
  auto bad_key =
      RunCommand({GeorepBinary(), "serve", "--data", dir.path() + "/d", "--listen", "127.0.0.1:0",
                  "--tls-cert", SelfSignedCertificate(dir), "--tls-key", dir.path() + "/key.pem"});
  EXPECT_EQ(bad_key.exit_code, 1);
  EXPECT_NE(bad_key.err.find("cannot load the TLS key " + dir.path() + "/key.pem: "),
            std::string::npos)
      << bad_key.err;
}

// Issue V8 on PostgreSQL: engines sharing one database each ran every directory session's
// worker and fought over them. One holds the engine lease and is active; the others stand by,
// answer /health and refuse the rest with the reason; a standby takes over when the active
// engine stops or dies, and an active engine that loses the lease stops (exit 3).
TEST(SeveralEngines, OneDatabaseHasOneActiveEngineAndAStandbyTakesOver) {
  std::string why;
  const std::string url = FreshPostgresDatabase(&why);
  ASSERT_FALSE(url.empty()) << "the test PostgreSQL server is required: " << why;
  TempDir dir;
  const std::vector<std::string> flags = {"--db", url, "--lease-ttl", "3"};
  auto a = std::make_unique<EngineProcess>(dir.path() + "/a", flags);
  ASSERT_TRUE(a->Start()) << a->output();
  const std::string token = a->Login(a->admin_password());
  ASSERT_FALSE(token.empty());
  EngineProcess b(dir.path() + "/b", flags);
  ASSERT_TRUE(b.Start()) << b.output();

  auto health = [](EngineProcess& e) {
    auto r = e.Get("/api/v1/health");
    return r && r->status == 200 ? Json::parse(r->body) : Json();
  };
  auto sessions_status = [&](EngineProcess& e) {
    auto r = e.Get("/api/v1/sessions", token);
    return r ? r->status : -1;
  };
  // Waits (bounded) until `e` answers the API as the active engine: another process's state,
  // with no event to wait on from here, so asked again until it does, for at most 30 s.
  auto becomes_active = [&](EngineProcess& e) {
    return WaitFor(30, [&] { return sessions_status(e) == 200; });
  };
  EXPECT_EQ(health(*a)["active"], true);
  Json standby = health(b);
  EXPECT_EQ(standby["active"], false) << standby.dump();
  EXPECT_NE(standby.value("standby_reason", "").find("is active on this database"),
            std::string::npos)
      << standby.dump();
  EXPECT_EQ(sessions_status(*a), 200);
  auto refused = b.Get("/api/v1/sessions", token);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("standing by"), std::string::npos) << refused->body;

  // The active engine dies: the standby takes over (an engine of this machine that has
  // exited frees its lease at once; on another machine, after --lease-ttl).
  a->Kill();
  EXPECT_TRUE(becomes_active(b)) << b.output();
  EXPECT_EQ(health(b)["active"], true);

  // Back, it stands by; the active one stopping cleanly hands over.
  a = std::make_unique<EngineProcess>(dir.path() + "/a", flags);
  ASSERT_TRUE(a->Start()) << a->output();
  EXPECT_EQ(health(*a)["active"], false);
  EXPECT_EQ(b.Terminate(), 0);
  EXPECT_TRUE(becomes_active(*a)) << a->output();

  // Another engine takes the lease behind this one's back (as one whose clock ran ahead
  // would): at its next renewal it finds itself not the holder and stops.
  PGconn* c = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c,
                       "UPDATE engine_leases SET holder = 'elsewhere:1:1', expires_at = "
                       "expires_at + 600000");
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  EXPECT_EQ(a->WaitExit(30), 3) << a->output();
}

TEST(OneEnginePerDataDirectory, ASecondEngineIsRefusedAndTheFirstGoesOn) {
  TempDir data;
  EngineProcess first(data.path());
  ASSERT_TRUE(first.Start()) << first.output();
  EngineProcess second(data.path());
  EXPECT_FALSE(second.Start()) << "a second engine started on the same data directory";
  EXPECT_NE(second.output().find("another georep engine (pid "), std::string::npos)
      << second.output();
  auto health = first.Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  first.Kill();
  EngineProcess third(data.path());
  EXPECT_TRUE(third.Start()) << third.output();
}

// Opens GET /api/v1/stream on a socket of its own and reads until `until` shows (or 10 s);
// returns the socket (the stream stays open) and what was read.
std::pair<int, std::string> OpenStream(int port, const std::string& token,
                                       const std::string& until) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {fd, ""};
  const std::string req =
      "GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
      "\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) return {fd, ""};
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.find(until) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return {fd, got};
}

// V11: one user could take all 16 live-stream slots, and nobody else got live updates.
TEST(LiveStreams, OneUserGetsAFewAndOthersStillGetTheirs) {
  TempDir data;
  EngineProcess engine(data.path());
  ASSERT_TRUE(engine.Start()) << engine.output();
  const std::string admin = engine.Login(engine.admin_password());
  auto made = engine.Post(
      "/api/v1/users", R"({"name":"mallory","password":"long-enough-pw","role":"viewer"})", admin);
  ASSERT_TRUE(made && made->status == 201);
  auto login =
      engine.Post("/api/v1/auth/login", R"({"username":"mallory","password":"long-enough-pw"})");
  ASSERT_TRUE(login && login->status == 200);
  const std::string mallory = Json::parse(login->body)["token"];
  std::vector<int> open;
  for (int i = 0; i < 4; ++i) {
    auto [fd, got] = OpenStream(engine.port(), mallory, "event: hello");
    open.push_back(fd);
    EXPECT_NE(got.find("event: hello"), std::string::npos) << i << ": " << got;
  }
  auto [fd, refused] = OpenStream(engine.port(), mallory, "\r\n\r\n");
  open.push_back(fd);
  EXPECT_EQ(refused.rfind("HTTP/1.1 429", 0), 0u) << refused;
  auto [afd, theirs] = OpenStream(engine.port(), admin, "event: hello");
  open.push_back(afd);
  EXPECT_NE(theirs.find("event: hello"), std::string::npos) << theirs;
  for (int f : open) ::close(f);
}

}  // namespace
}  // namespace georep::testing
