// The shared fixture and lab helpers of the tests against real GlusterFS (gluster_fixture.h).
#include "integration/gluster_fixture.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace georep::testing {

void GlusterTest::SetUp() {
  // For quick local runs only; CI never sets it (.ci/run unsets it).
  if (getenv("GEOREP_SKIP_GLUSTER") != nullptr) GTEST_SKIP() << "GEOREP_SKIP_GLUSTER is set";
  // The engine's key exists before the cluster does, so the nodes can trust it.
  LocalCommandRunner local;
  auto id = SshIdentity::LoadOrCreate(local, data_.path() + "/engine/ssh");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  std::ofstream(data_.path() + "/engine.pub") << id->public_key << "\n";
  auto up = RunCommand({"/bin/bash", GEOREP_GLUSTER_HARNESS, "up", GEOREP_GLUSTER_STATE,
                        data_.path() + "/engine.pub"},
                       "", {}, 180);
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  std::ifstream nodes(std::string(GEOREP_GLUSTER_STATE) + "/nodes");
  Node n;
  while (nodes >> n.name >> n.ip >> n.fingerprint) nodes_.push_back(n);
  ASSERT_EQ(nodes_.size(), 3u);  // src1, src2, dst1

  // The monitor polls every 2 s so that status changes show within the tests' bounds.
  // Directory volumes: on the lab's nodes (under its state directory) and in temporary
  // directories.
  engine_ = std::make_unique<EngineProcess>(
      data_.path() + "/engine",
      std::vector<std::string>{"--monitor-interval", "2", "--volume-root", GEOREP_GLUSTER_STATE,
                               "--volume-root", "/tmp"});
  ASSERT_TRUE(engine_->Start()) << engine_->output();
  token_ = engine_->Login(engine_->admin_password());
  ASSERT_FALSE(token_.empty());
}
void GlusterTest::TearDown() {
  if (getenv("GEOREP_SKIP_GLUSTER") != nullptr) return;
  engine_.reset();
  // To look at a failure's clusters by hand: GEOREP_KEEP_CLUSTERS=1, then cluster.sh down.
  if (getenv("GEOREP_KEEP_CLUSTERS") != nullptr) return;
  auto down = RunCommand({"/bin/bash", GEOREP_GLUSTER_HARNESS, "down", GEOREP_GLUSTER_STATE});
  EXPECT_EQ(down.exit_code, 0) << down.err;
}

Json GlusterTest::Import(const std::string& fingerprint, int* status) {
  Json body = {{"name", "src"}, {"address", nodes_[0].ip}, {"ssh_fingerprint", fingerprint}};
  auto r = engine_->Post("/api/v1/clusters/import", body.dump(), token_);
  *status = r ? r->status : 0;
  return r ? Json::parse(r->body) : Json();
}

void GlusterTest::ImportSource(Source* out) {
  int status = 0;
  Json imported = Import(nodes_[0].fingerprint, &status);
  ASSERT_EQ(status, 201) << imported.dump();
  out->cluster = imported["cluster"]["id"];
  out->volume = imported["volumes"][0]["id"];
  for (const auto& h : imported["hosts"]) {
    if (h["address"] == nodes_[0].ip) out->src1 = h["id"];
    if (h["address"] == nodes_[1].ip) out->src2 = h["id"];
  }
  Json pin = {{"fingerprint", nodes_[1].fingerprint}};
  ASSERT_EQ(engine_->Put("/api/v1/hosts/" + out->src2 + "/fingerprint", pin.dump(), token_)->status,
            200);
  auto check = engine_->Post("/api/v1/hosts/" + out->src2 + "/check", "{}", token_);
  ASSERT_EQ(Json::parse(check->body)["status"], "Up") << check->body;
}

std::string GlusterTest::RootPassword() {
  std::string password;
  std::ifstream in(std::string(GEOREP_GLUSTER_STATE) + "/root-password");
  in >> password;
  return password;
}
void GlusterTest::ExpectNeitherStoredNorLogged(const std::string& password,
                                               const std::string& events_query) {
  EXPECT_EQ(engine_->output().find(password), std::string::npos);
  std::ifstream db(data_.path() + "/engine/georep.db", std::ios::binary);
  std::stringstream bytes;
  bytes << db.rdbuf();
  ASSERT_FALSE(bytes.str().empty());
  EXPECT_EQ(bytes.str().find(password), std::string::npos);
  auto events = engine_->Get("/api/v1/events?" + events_query, token_);
  EXPECT_EQ(events->body.find(password), std::string::npos);
}

std::pair<int, Json> GlusterTest::PostJson(const std::string& path, const Json& body) {
  auto r = engine_->Post(path, body.dump(), token_);
  return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false))
           : std::make_pair(0, Json());
}
void GlusterTest::CreateDestinationOnDst1(const Source& source, std::string* id) {
  auto [d_status, dest] = PostJson("/api/v1/clusters/" + source.cluster + "/destinations",
                                   {{"source_host_id", source.src1},
                                    {"host", nodes_[2].ip},
                                    {"ssh_fingerprint", nodes_[2].fingerprint},
                                    {"copy_keys", true}});
  ASSERT_EQ(d_status, 201) << dest.dump();
  *id = dest["id"];
}

void GlusterTest::MountVolumes(const std::string& src_mnt, const std::string& dst_volume,
                               const std::string& dst_mnt) {
  ASSERT_EQ(OnNode("src1", {"/bin/mkdir", "-p", src_mnt}).exit_code, 0);
  ASSERT_EQ(OnNode("dst1", {"/bin/mkdir", "-p", dst_mnt}).exit_code, 0);
  auto m1 = OnNode("src1", {"/bin/mount", "-t", "glusterfs", nodes_[0].ip + ":/gv0", src_mnt});
  ASSERT_EQ(m1.exit_code, 0) << m1.err;
  auto m2 =
      OnNode("dst1", {"/bin/mount", "-t", "glusterfs", nodes_[2].ip + ":/" + dst_volume, dst_mnt});
  ASSERT_EQ(m2.exit_code, 0) << m2.err;
}

void GlusterTest::CreateDirectorySession(const Source& source, const std::string& name,
                                         const std::string& src_dir, const std::string& dest_host,
                                         const std::string& dst_dir, std::string* path) {
  ASSERT_EQ(RunCommand({"/bin/mkdir", "-p", src_dir + "/sub"}).exit_code, 0);
  std::ofstream(src_dir + "/a.txt") << "alpha\n";
  std::ofstream(src_dir + "/sub/b.bin") << std::string(300000, 'b');
  auto [v_status, volume] = PostJson("/api/v1/clusters/" + source.cluster + "/volumes",
                                     {{"name", name}, {"host_id", source.src1}, {"path", src_dir}});
  ASSERT_EQ(v_status, 201) << volume.dump();
  auto [d_status, dest] = PostJson("/api/v1/clusters/" + source.cluster + "/destinations",
                                   {{"source_host_id", source.src1},
                                    {"host", dest_host},
                                    {"ssh_fingerprint", nodes_[2].fingerprint}});
  ASSERT_EQ(d_status, 201) << dest.dump();
  auto [s_status, created] = PostJson("/api/v1/sessions", {{"destination_id", dest["id"]},
                                                           {"source_volume_id", volume["id"]},
                                                           {"destination_volume", dst_dir}});
  ASSERT_EQ(s_status, 201) << created.dump();
  *path = "/api/v1/sessions/" + created["id"].get<std::string>();
}

void GlusterTest::StartDirectorySession(const std::string& path, const std::string& dst_dir) {
  auto started = PostJson(path + "/start", Json::object());
  ASSERT_EQ(started.first, 200) << started.second.dump();
  auto session = [&] { return Json::parse(engine_->Get(path, token_)->body); };
  EXPECT_TRUE(WaitFor(60, [&] {
    const Json now = session();
    return now["status"] == "Active" && now["nodes"][0]["crawl_status"] == "Changelog Crawl";
  })) << session().dump(2);
  EXPECT_TRUE(WaitFor(30, [&] {
    return ReadFile(dst_dir + "/a.txt") == "alpha\n" &&
           ReadFile(dst_dir + "/sub/b.bin") == std::string(300000, 'b');
  }));
}

void GlusterTest::WriteLiveAndVerify(const std::string& path, const std::string& src_dir,
                                     const std::string& dst_dir) {
  std::ofstream(src_dir + "/sub/live.txt") << "written while running\n";
  EXPECT_TRUE(WaitFor(30, [&] { return ReadFile(dst_dir + "/sub/live.txt") != ""; }));
  auto verified = PostJson(path + "/verify", Json::object());
  ASSERT_EQ(verified.first, 200) << verified.second.dump();
  EXPECT_EQ(verified.second["identical"], true) << verified.second.dump(2);
  EXPECT_GE(verified.second["content_checked"].get<int>(), 3);
}

CommandResult OnNode(const std::string& node, std::vector<std::string> argv) {
  std::vector<std::string> all = {
      "/usr/bin/nsenter", "--net=/run/netns/" + node,
      "--mount=" + std::string(GEOREP_GLUSTER_STATE) + "/" + node + "/mnt.ns", "--"};
  all.insert(all.end(), argv.begin(), argv.end());
  return RunCommand(all);
}

bool WaitFor(int seconds, const std::function<bool()>& check, int every_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
  }
  return check();
}

std::string Sha256OnNode(const std::string& node, const std::string& path) {
  auto r = OnNode(node, {"/usr/bin/sha256sum", path});
  return r.exit_code == 0 ? r.out.substr(0, 64) : "";
}

std::string GlusterConfigOnNode(const std::string& node, const std::string& volume,
                                const std::string& destination, const std::string& key) {
  CommandResult r;
  WaitFor(60, [&] {
    r = OnNode(node, {"/usr/sbin/gluster", "--mode=script", "volume", "geo-replication", volume,
                      destination, "config", key});
    return r.exit_code == 0;
  });
  if (r.exit_code != 0) return "gluster failed: " + r.out + r.err;
  return r.out.substr(0, r.out.find('\n'));
}

std::vector<pid_t> SshClientsTo(const std::string& node, const std::string& ip) {
  std::vector<pid_t> out;
  std::istringstream in(RunCommand({"/usr/sbin/ip", "netns", "pids", node}).out);
  pid_t pid = 0;
  while (in >> pid) {
    std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.rfind("ssh ", 0) == 0 && cmdline.find(" " + ip + " ") != std::string::npos)
      out.push_back(pid);
  }
  return out;
}

bool UnreachableFromSources::Cut(const std::string& node) {
  auto r = RunCommand({"/usr/sbin/ip", "-n", node, "route", "add", "unreachable", ip_ + "/32"});
  if (r.exit_code == 0) nodes_.push_back(node);
  return r.exit_code == 0;
}

void UnreachableFromSources::Restore() {
  for (const auto& n : nodes_)
    RunCommand({"/usr/sbin/ip", "-n", n, "route", "del", "unreachable", ip_ + "/32"});
  nodes_.clear();
}

std::vector<pid_t> GsyncdWorkers(const std::string& node) {
  std::vector<pid_t> out;
  auto pids = RunCommand({"/usr/sbin/ip", "netns", "pids", node});
  std::istringstream in(pids.out);
  pid_t pid = 0;
  while (in >> pid) {
    std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("gsyncd") != std::string::npos &&
        cmdline.find(" worker ") != std::string::npos)
      out.push_back(pid);
  }
  return out;
}

void SetSessionConfig(EngineProcess& engine, const std::string& token, const std::string& path,
                      const std::string& key, const std::string& value) {
  auto r = engine.Put(path + "/config/" + key, Json{{"value", value}}.dump(), token);
  ASSERT_TRUE(r) << path << ": no answer";
  ASSERT_EQ(r->status, 200) << key << ": " << r->body;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<pid_t> WorkersOnNode(const std::string& node) {
  std::vector<pid_t> out;
  std::istringstream pids(RunCommand({"/usr/sbin/ip", "netns", "pids", node}).out);
  for (pid_t pid; pids >> pid;) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string arg;
    std::set<std::string> args;
    while (std::getline(in, arg, '\0')) args.insert(arg);
    if (args.count("worker") && args.count("--status-stdout")) out.push_back(pid);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace georep::testing
