#include "integration/engine_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace georep::testing {

std::string GeorepBinary() {
  const char* b = std::getenv("GEOREP_BINARY");
  if (b && *b) return b;
  return GEOREP_BUILT_BINARY;  // the binary built beside these tests
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/georep-it.XXXXXX";
  char* p = mkdtemp(tmpl);
  if (!p) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Reads what is available from fd into out, waiting at most `ms`. Returns false on EOF.
bool ReadSome(int fd, std::string& out, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return true;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return false;
  out.append(buf, static_cast<size_t>(n));
  return true;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         const std::vector<std::string>& env, int timeout_s) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    auto args = CStrings(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (!input.empty()) (void)!write(in[1], input.data(), input.size());
  close(in[1]);
  CommandResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    if (out_open) out_open = ReadSome(out[0], r.out, 50);
    if (err_open) err_open = ReadSome(err[0], r.err, 50);
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  if (out_open || err_open) kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

EngineProcess::EngineProcess(std::string data_dir, std::vector<std::string> extra)
    : data_dir_(std::move(data_dir)), extra_(std::move(extra)) {}

EngineProcess::~EngineProcess() {
  if (pid_ > 0) Kill();
  unlink((data_dir_ + ".stderr.log").c_str());
}

std::string EngineProcess::output() const {
  std::string all = output_;
  std::ifstream in(data_dir_ + ".stderr.log");
  std::string line;
  while (std::getline(in, line)) all += "\n[stderr] " + line;
  return all;
}

bool EngineProcess::Start() {
  int out[2];
  if (pipe2(out, O_CLOEXEC)) return false;
  std::vector<std::string> argv = {GeorepBinary(), "serve",       "--data",      data_dir_,
                                   "--listen",     "127.0.0.1:0", "--log-level", "warning"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  // The tests' directory volumes live in their temporary directories.
  if (std::find(extra_.begin(), extra_.end(), "--volume-root") == extra_.end()) {
    argv.emplace_back("--volume-root");
    argv.emplace_back("/tmp");
  }
  const std::string log = data_dir_ + ".stderr.log";
  pid_ = fork();
  if (pid_ == 0) {
    // The engine must not outlive a test that crashed, nor hold the test runner's pipes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (err >= 0) dup2(err, 2);
    dup2(out[1], 1);
    auto args = CStrings(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  stdout_fd_ = out[0];
  output_.clear();
  admin_password_.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string marker = "listening on ";
  while (std::chrono::steady_clock::now() < deadline) {
    if (!ReadSome(stdout_fd_, output_, 100)) break;
    auto pos = output_.find(marker);
    if (pos == std::string::npos || output_.find('\n', pos) == std::string::npos) continue;
    url_ = output_.substr(pos + marker.size(), output_.find('\n', pos) - pos - marker.size());
    port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
    auto pw = output_.find("password: ");
    if (pw != std::string::npos)
      admin_password_ = output_.substr(pw + 10, output_.find('\n', pw) - pw - 10);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_connection_timeout(5, 0);
    // As the CLI's: a gluster session's create (preflight, eligibility, a non-root
    // destination's mountbroker set-up with glusterd's restart) can take a while.
    client_->set_read_timeout(120, 0);
    return true;
  }
  return false;
}

void EngineProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  close(stdout_fd_);
}

int EngineProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  close(stdout_fd_);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int EngineProcess::WaitExit(int timeout_s) {
  if (pid_ <= 0) return -1;
  // The exit is an event: a pidfd becomes readable when the process ends.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) return -1;
  pollfd p{pidfd, POLLIN, 0};
  const int ready = ::poll(&p, 1, timeout_s * 1000);
  ::close(pidfd);
  if (ready <= 0) return -1;
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return -1;
  pid_ = -1;
  close(stdout_fd_);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

httplib::Headers EngineProcess::Auth(const std::string& token) const {
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return h;
}

httplib::Result EngineProcess::Get(const std::string& path, const std::string& token) {
  return client_->Get(path, Auth(token));
}
httplib::Result EngineProcess::Post(const std::string& path, const std::string& body,
                                    const std::string& token) {
  return client_->Post(path, Auth(token), body, "application/json");
}
httplib::Result EngineProcess::Put(const std::string& path, const std::string& body,
                                   const std::string& token) {
  return client_->Put(path, Auth(token), body, "application/json");
}
httplib::Result EngineProcess::Delete(const std::string& path, const std::string& token) {
  return client_->Delete(path, Auth(token));
}

std::string EngineProcess::Login(const std::string& password) {
  nlohmann::json body = {{"username", "admin"}, {"password", password}};
  auto r = Post("/api/v1/auth/login", body.dump());
  if (!r || r->status != 200) return "";
  return nlohmann::json::parse(r->body).value("token", "");
}

}  // namespace georep::testing
