// The shared helpers of the replication engine's integration tests (replication_fixtures.h).
#include "integration/replication_fixtures.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace georep::testing {

namespace fs = std::filesystem;
using replication::ReadWorkerStatus;
using replication::testing::ReadFile;

std::string ReplicationReason(const std::string& state) {
  auto st = ReadWorkerStatus(state);
  return st.ok() ? st->state + ": " + st->reason : st.status().message();
}

bool WorkerStateIs(const std::string& state_dir, const std::string& state) {
  auto st = ReadWorkerStatus(state_dir);
  return st.ok() && st->state == state;
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string Random(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void MakeRichTree(const std::string& root) {
  std::mt19937_64 rng(42);
  fs::create_directories(root + "/dir/sub/deeper");
  fs::create_directories(root + "/empty-dir");
  Write(root + "/dir/small.txt", "hello\n");
  Write(root + "/dir/sub/one-mib.bin", Random(rng, 1 << 20));
  Write(root + "/empty", "");
  Write(root + "/name with spaces 'and quotes'", "odd names are names\n");
  fs::create_symlink("dir/small.txt", root + "/link");
  fs::create_symlink("/nonexistent/target", root + "/dangling");
  fs::create_hard_link(root + "/dir/small.txt", root + "/dir/sub/hardlink");
  {  // sparse: a hole, then data
    int fd = ::open((root + "/sparse").c_str(), O_WRONLY | O_CREAT, 0640);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "tail", 4, 8 << 20), 4);
    ::close(fd);
  }
  ASSERT_EQ(::setxattr((root + "/dir/small.txt").c_str(), "user.origin", "site-a", 6, 0), 0);
  ::chmod((root + "/dir/sub").c_str(), 0750);
  ::chmod((root + "/empty").c_str(), 0600);
  struct timespec times[2] = {{1700000000, 123456789}, {1700000000, 987654321}};
  ::utimensat(AT_FDCWD, (root + "/dir/small.txt").c_str(), times, 0);
}

void EngineSession::Create(const std::string& interval, const nlohmann::json& config) {
  using Json = nlohmann::json;
  engine = std::make_unique<EngineProcess>(
      data.path(), std::vector<std::string>{"--monitor-interval", interval});
  ASSERT_TRUE(engine->Start()) << engine->output();
  token = engine->Login(engine->admin_password());
  ASSERT_FALSE(token.empty());
  auto [c_status, cluster] = Post("/api/v1/clusters", {{"name", "local"}});
  ASSERT_EQ(c_status, 201) << cluster.dump();
  const std::string cid = cluster["id"];
  auto [h_status, host] =
      Post("/api/v1/clusters/" + cid + "/hosts", {{"name", "localhost"}, {"transport", "local"}});
  ASSERT_EQ(h_status, 201) << host.dump();
  auto [v_status, volume] = Post("/api/v1/clusters/" + cid + "/volumes",
                                 {{"name", "docs"}, {"host_id", host["id"]}, {"path", src.path()}});
  ASSERT_EQ(v_status, 201) << volume.dump();
  auto [d_status, dest] = Post("/api/v1/clusters/" + cid + "/destinations",
                               {{"source_host_id", host["id"]}, {"host", "localhost"}});
  ASSERT_EQ(d_status, 201) << dest.dump();
  auto [s_status, created] = Post("/api/v1/sessions", {{"destination_id", dest["id"]},
                                                       {"source_volume_id", volume["id"]},
                                                       {"destination_volume", dst.path()}});
  ASSERT_EQ(s_status, 201) << created.dump();
  id = created["id"];
  path = "/api/v1/sessions/" + id;
  for (const auto& [key, value] : config.items()) {
    auto r = engine->Put(path + "/config/" + key, Json{{"value", value}}.dump(), token);
    ASSERT_TRUE(r && r->status == 200) << key << ": " << (r ? r->body : "");
  }
}

void EngineSession::Start(const std::string& interval, const nlohmann::json& config) {
  ASSERT_NO_FATAL_FAILURE(Create(interval, config));
  ASSERT_EQ(Post(path + "/start", nlohmann::json::object()).first, 200);
}

std::pair<int, nlohmann::json> EngineSession::Post(const std::string& api_path,
                                                   const nlohmann::json& body) {
  auto r = engine->Post(api_path, body.dump(), token);
  EXPECT_TRUE(r) << api_path;
  return r ? std::make_pair(r->status, nlohmann::json::parse(r->body, nullptr, false))
           : std::make_pair(0, nlohmann::json());
}

nlohmann::json EngineSession::Detail() {
  return nlohmann::json::parse(engine->Get(path, token)->body);
}

nlohmann::json EngineSession::Events(const std::string& action) {
  return nlohmann::json::parse(
      engine->Get("/api/v1/events?action=" + action, token)->body)["items"];
}

bool EngineSession::ActiveInChangelogCrawl() {
  const nlohmann::json now = Detail();
  return now["status"] == "Active" && now["nodes"][0]["crawl_status"] == "Changelog Crawl";
}

void EngineSession::LoginCli(const std::string& config_dir, std::vector<std::string>* env) {
  *env = {"GEOREP_CONFIG_DIR=" + config_dir};
  ASSERT_EQ(RunCommand({GeorepBinary(), "login", "--server", engine->url(), "--password-stdin"},
                       engine->admin_password() + "\n", *env)
                .exit_code,
            0);
}

pid_t EngineSession::Worker() const {
  auto pids = RunCommand({"/usr/bin/pgrep", "-f", "worker --source " + src.path()});
  return pids.out.empty() ? 0 : std::stoi(pids.out);
}

bool EngineSession::ActiveSince(int64_t since_ms) const {
  auto st = ReadWorkerStatus(StateDir());
  return st.ok() && st->state == "Active" && st->updated_ms >= since_ms;
}

CommandResult WorkerRun::Once() {
  std::vector<std::string> argv = {GeorepBinary(), "worker",        "--source",
                                   source,         "--destination", destination,
                                   "--state-dir",  state,           "--once"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunCommand(argv, "", {}, 300);
}

uint64_t BytesRead(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value)
    if (key == "rchar:") return value;
  return 0;
}

std::string CommandLine(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(s.begin(), s.end(), '\0', ' ');
  return s;
}

pid_t AgentOf(pid_t worker) {
  for (pid_t p : ProcessTree(worker)) {
    if (p == worker) continue;
    const auto words = CommandLineOf(p);
    if (std::find(words.begin(), words.end(), "agent") != words.end()) return p;
  }
  return 0;
}

uint64_t TreeBytes(const std::string& root) {
  uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it)
    if (it->is_regular_file() && !it->is_symlink()) total += it->file_size();
  return total;
}

bool ConvergedAndActive(const std::string& src, const std::string& dst, const std::string& state) {
  auto st = ReadWorkerStatus(state);
  return st.ok() && st->state == "Active" && st->failures == 0 && st->lag_ms == 0 &&
         SameTree(src, dst);
}

}  // namespace georep::testing
