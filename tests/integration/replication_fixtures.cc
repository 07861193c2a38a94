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
