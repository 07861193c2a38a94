// The fault harness's processes (fault_processes.h).
#include "fault/fault_processes.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

namespace georep::fault {

namespace fs = std::filesystem;

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child = 0;
    while (in >> child) out.push_back(child);
  }
  return out;
}

std::vector<std::string> CommandLineOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> words;
  std::string w;
  while (std::getline(in, w, '\0')) words.push_back(w);
  return words;
}

std::vector<pid_t> AgentsServing(const std::string& root) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const auto words = CommandLineOf(std::stoi(name));
    if (words.size() < 4 || words[1] != "agent") continue;
    for (size_t i = 2; i + 1 < words.size(); ++i)
      if (words[i] == "--root" && words[i + 1] == root) out.push_back(std::stoi(name));
  }
  return out;
}

void Worker::Start() {
  int ready[2] = {-1, -1}, go[2] = {-1, -1};
  if (inotify_limit_ >= 0 && (::pipe(ready) != 0 || ::pipe(go) != 0)) {
    std::cerr << "pipe: " << std::strerror(errno) << "\n";
    return;
  }
  // Everything the child needs is made before fork: with the relay's thread running, the
  // child may not allocate (that thread may have held the allocator's lock at fork).
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const std::string limit = std::to_string(inotify_limit_) + "\n";
  pid_ = ::fork();
  if (pid_ == 0) {
    int null = ::open("/dev/null", O_RDWR);
    int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(null, 0);
    ::dup2(null, 1);
    if (err >= 0) ::dup2(err, 2);
    if (inotify_limit_ >= 0) {
      // The parent writes the id maps (it may map every id: it is root outside); then this
      // namespace's limit, which the kernel checks besides the machine's fs.inotify.*.
      char c = 0;
      if (::unshare(CLONE_NEWUSER) != 0 || ::write(ready[1], "u", 1) != 1 ||
          ::read(go[0], &c, 1) != 1 || c != 'g') {
        ::perror("worker's user namespace");
        ::_exit(126);
      }
      const int fd = ::open("/proc/sys/user/max_inotify_watches", O_WRONLY);
      if (fd < 0 || ::write(fd, limit.data(), limit.size()) != static_cast<ssize_t>(limit.size())) {
        ::perror("user.max_inotify_watches");
        ::_exit(126);
      }
      ::close(fd);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (inotify_limit_ >= 0) {
    ::close(ready[1]);
    ::close(go[0]);
    char c = 0;
    bool ok = ::read(ready[0], &c, 1) == 1;
    const std::string proc = "/proc/" + std::to_string(pid_);
    for (const char* map : {"/uid_map", "/gid_map"}) {
      std::ofstream m(proc + map);
      m << "0 0 4294967295\n";
      m.close();
      ok = ok && m.good();
    }
    if (!ok) std::cerr << "cannot map the worker's user namespace\n";
    ok = ::write(go[1], ok ? "g" : "x", 1) == 1 && ok;
    ::close(ready[0]);
    ::close(go[1]);
  }
  ++starts_;
}

void Worker::Abandon() {
  if (pid_ > 0) abandoned_.push_back(pid_);
  pid_ = -1;
}

void Worker::ReapAbandoned() {
  std::erase_if(abandoned_, [](pid_t p) { return ::waitpid(p, nullptr, WNOHANG) == p; });
}

std::set<pid_t> Worker::Pids() const {
  std::set<pid_t> out(abandoned_.begin(), abandoned_.end());
  if (pid_ > 0) out.insert(pid_);
  return out;
}

bool Worker::Running() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    pid_ = -1;
    ++exits_;
    return false;
  }
  return true;
}

std::vector<pid_t> Worker::SshClients() const {
  std::vector<pid_t> out;
  if (pid_ <= 0) return out;
  for (pid_t c : ChildrenOf(pid_)) {
    auto words = CommandLineOf(c);
    if (!words.empty() && fs::path(words[0]).filename() == "ssh") out.push_back(c);
  }
  return out;
}

void Worker::Kill(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

void Worker::StopAll() {
  Stop();
  for (pid_t p : abandoned_) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  }
  abandoned_.clear();
}

void ReapOrphans(const std::set<pid_t>& keep) {
  for (pid_t c : ChildrenOf(::getpid())) {
    if (keep.count(c)) continue;
    int st = 0;
    ::waitpid(c, &st, WNOHANG);
  }
}

void KillDescendants(const std::set<pid_t>& keep) {
  for (pid_t c : ChildrenOf(::getpid())) {
    if (keep.count(c)) continue;
    ::kill(c, SIGKILL);
    int st = 0;
    ::waitpid(c, &st, 0);
  }
}

Status ReadStatus(const std::string& state_dir) {
  Status s;
  std::ifstream in(state_dir + "/status.json");
  if (!in) return s;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return s;
  s.ok = true;
  s.state = j.value("state", "");
  s.crawl = j.value("crawl", "");
  s.reason = j.value("reason", "");
  s.last_synced_ms = j.value("last_synced_ms", int64_t{0});
  s.pending = j.value("pending_entry", uint64_t{0}) + j.value("pending_data", uint64_t{0}) +
              j.value("pending_meta", uint64_t{0});
  s.failures = j.value("failures", uint64_t{0});
  s.bytes_sent = j.value("bytes_sent", uint64_t{0});
  s.files_sent = j.value("files_sent", uint64_t{0});
  s.updated_ms = j.value("updated_ms", int64_t{0});
  return s;
}

}  // namespace georep::fault
